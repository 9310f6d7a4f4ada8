/** Types for the parts of @echogarden/espeak-ng-emscripten (GPL-3.0, no bundled types) that offline.ts uses. */
declare module '@echogarden/espeak-ng-emscripten' {
  interface ESpeakNGWorker {
    set_voice(name: string): unknown;
    set_rate(wpm: number): unknown;
    get_samplerate(): number;
    synthesize(text: string, cb: (audio: Int16Array, events: unknown[]) => number | boolean): void;
  }
  const createModule: () => Promise<{ eSpeakNGWorker: new () => ESpeakNGWorker }>;
  export default createModule;
}
