/** Types for @jitsi/rnnoise-wasm's synchronous build (RNNoise by Emscripten, the wasm inlined; no types shipped). */
declare module '@jitsi/rnnoise-wasm/dist/rnnoise-sync.js' {
  export interface RnnoiseModule {
    /** A new denoiser state (pointer); frames of 480 samples at 48 kHz, float in int16 scale. */
    _rnnoise_create(model?: number): number;
    _rnnoise_destroy(state: number): void;
    /** Denoises `inPtr` into `outPtr` (may be the same); returns the frame's voice probability 0..1. */
    _rnnoise_process_frame(state: number, outPtr: number, inPtr: number): number;
    _malloc(bytes: number): number;
    _free(ptr: number): void;
    readonly HEAPF32: Float32Array;
  }
  const factory: () => Promise<RnnoiseModule>;
  export default factory;
}
