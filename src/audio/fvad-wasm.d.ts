/** Types for @echogarden/fvad-wasm (libfvad, WebRTC VAD compiled by Emscripten; the package ships no types). */
declare module '@echogarden/fvad-wasm' {
  export interface FvadModuleArgs {
    /** Emscripten hook: instantiate the module ourselves (to reach its linear memory), then call `receive`. */
    instantiateWasm?: (imports: object, receive: (instance: object, module?: object) => void) => object;
  }
  export interface FvadModule {
    _fvad_new(): number;
    _fvad_free(handle: number): void;
    _fvad_reset(handle: number): void;
    /** 0..3, higher = more aggressive in rejecting non-speech. Returns 0 or -1. */
    _fvad_set_mode(handle: number, mode: number): number;
    /** 8000, 16000, 32000 or 48000. Returns 0 or -1. */
    _fvad_set_sample_rate(handle: number, rate: number): number;
    /** 1 = speech, 0 = non-speech, -1 = invalid frame length (10, 20 or 30 ms only). */
    _fvad_process(handle: number, framePtr: number, length: number): number;
    _malloc(bytes: number): number;
    _free(ptr: number): void;
  }
  const factory: (args?: FvadModuleArgs) => Promise<FvadModule>;
  export default factory;
}
