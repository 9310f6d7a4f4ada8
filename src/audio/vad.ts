/**
 * Streaming voice activity detection: per-frame speech probability plus speech-start / speech-end events with
 * hysteresis and hangover.
 *
 * Engine: WebRTC VAD (libfvad compiled to wasm, `@echogarden/fvad-wasm`, BSD-3-Clause). Chosen over Silero because
 * it runs natively at 8 kHz (Silero wants 16 kHz, i.e. a resample per frame), loads in milliseconds offline and
 * is a GMM model over six sub-band energies, not an energy threshold, so it holds on line noise. Its raw decision
 * is binary and jumpy (one 10 ms frame flips), so each frame is cut into 10 ms sub-frames, each gets a decision,
 * and the probability is the fraction of speech decisions over the last `windowMs`. Speech starts when the
 * probability stays >= startThreshold for minSpeechMs; it ends when the probability is < endThreshold and no
 * sub-frame was voiced for hangoverMs.
 *
 * Measured on this machine (`npx tsx fixtures/vad/measure.ts`: fixtures/vad clips and the 7 call recordings, all
 * 8 kHz mu-law with line noise; `npx voice-engine bench dsp`):
 *   mode | speech clip recall | false starts: noise+hum clips / call pauses | music (8 s) | DTMF bursts
 *   0    | 4/6                | 2 / 22                                       | 1 start     | 6/7 start
 *   2    | 5/6                | 1 / 1                                        | 1 start     | 6/7 start
 *   3    | 6/6 (calls 8/8)    | 0 / 0                                        | 1 start, 97% frames voiced | 7/7 start
 * Mode 3 (the default) wins everywhere. Speech-start fires 100-140 ms after the true onset and reports the onset
 * within 20 ms; speech-end reports the end 26-101 ms late (WebRTC's own overhang), then waits hangoverMs.
 * Speed: ~11,000x real time on one core (bench dsp, 20 ms frames at 8 kHz), no allocation per frame.
 * Limits: music is voiced to this model (one long speech segment, no flapping); DTMF tones are voiced too, so the
 * session must let its DTMF detector overrule the VAD during key presses. Calls confirm its speech with Silero
 * (confirmed-vad.ts, settings.vad 'silero', the default), which rejects music; this stage stays the cheap first one.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import fvadFactory, { type FvadModule } from '@echogarden/fvad-wasm';

export interface VadOptions {
  sampleRate: 8000 | 16000;
  /** Speech probability at or above which speech may start, 0..1. */
  startThreshold?: number;
  /** Speech probability below which speech may end (hysteresis: below startThreshold), 0..1. */
  endThreshold?: number;
  /** Sustained speech before speech-start, ms. */
  minSpeechMs?: number;
  /** Hangover: silence after the last voiced 10 ms before speech-end, ms. */
  hangoverMs?: number;
  /** WebRTC VAD aggressiveness 0..3 (3 rejects the most non-speech). */
  mode?: 0 | 1 | 2 | 3;
  /** Smoothing window over the 10 ms decisions, ms (multiple of 10). */
  windowMs?: number;
}

export interface Vad {
  /** Speech probability 0..1 of this frame (10/20/30 ms, any multiple of 10 ms); no allocation per call. */
  process(frame: Int16Array): number;
  readonly speaking: boolean;
  /** `atMs`: stream time (ms of audio since creation or reset) of the first voiced 10 ms of this speech. */
  onSpeechStart?: (atMs: number) => void;
  /** `atMs`: stream time of the end of the last voiced 10 ms; fired hangoverMs later. */
  onSpeechEnd?: (atMs: number, speechMs: number) => void;
  reset(): void;
  /** Frees the model state now rather than at garbage collection; idempotent; process() is a no-op after. */
  close?(): void;
}

export const VAD_DEFAULTS = {
  startThreshold: 0.5,
  endThreshold: 0.3,
  minSpeechMs: 60,
  hangoverMs: 500,
  mode: 3,
  windowMs: 100,
} as const;

/**
 * WebRTC VAD starts from a default noise model and calls the first ~70 ms of any input speech (measured on
 * noise, hum and silence-with-noise clips); decisions are ignored for this long after creation or reset, ms.
 */
const WARMUP_MS = 100;

/** Bytes of the wasm-side frame buffer: 10 ms at 16 kHz, int16. */
const SUB_BYTES = 160 * 2;

/** The few WebAssembly globals used here (tsconfig has no DOM lib, and @types/node 20 does not declare them). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: object }; module: object }>;
  Memory: abstract new (...args: never[]) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface LoadedFvad {
  mod: FvadModule;
  memory: WasmMemory;
}

let loading: Promise<LoadedFvad> | undefined;

/** Loads the wasm module once per process; every VAD shares it (one fvad instance each, ~1 KB). */
function loadFvad(): Promise<LoadedFvad> {
  loading ??= (async () => {
    const jsPath = createRequire(import.meta.url).resolve('@echogarden/fvad-wasm');
    const bytes = await readFile(jsPath.replace(/fvad\.js$/, 'fvad.wasm'));
    let memory: WasmMemory | undefined;
    const mod = await new Promise<FvadModule>((resolve, reject) => {
      fvadFactory({
        // The Emscripten build does not export its heap views; instantiate it here to keep its memory.
        instantiateWasm(imports, receive) {
          wasm.instantiate(bytes, imports).then(({ instance, module }) => {
            for (const value of Object.values(instance.exports)) {
              if (value instanceof wasm.Memory) memory = value;
            }
            receive(instance, module);
          }, reject);
          return {};
        },
      }).then(resolve, reject);
    });
    if (!memory) throw new Error('fvad-wasm: no exported memory');
    return { mod, memory };
  })();
  // A failed load (missing or corrupt wasm) is reported to every waiting caller, and the next call retries.
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

/** Frees the wasm-side instance and buffer of a VAD that was garbage collected without close(). */
const finalizer = new FinalizationRegistry<{ mod: FvadModule; handle: number; ptr: number }>((h) => {
  h.mod._fvad_free(h.handle);
  h.mod._free(h.ptr);
});

export class WebRtcVad implements Vad {
  onSpeechStart?: (atMs: number) => void;
  onSpeechEnd?: (atMs: number, speechMs: number) => void;
  /** Frames whose length was not a multiple of 10 ms (skipped, state unchanged). */
  invalidFrames = 0;
  /**
   * Its probability (voiced share of the last windowMs) falls under 0.5 this long after speech ends, ms: the
   * median on real prompts over a phone line is 110 ms (spread 10-170), taken a little under it so that an end is
   * rarely reported before the speech is over. Measured with the call's SpeechGate (threshold 0.5) on 8
   * asterisk-core-sounds prompts, mu-law with -50 dBFS pink line noise.
   */
  readonly endLagMs = 90;

  readonly #mod: FvadModule;
  readonly #memory: WasmMemory;
  readonly #handle: number;
  readonly #ptr: number;
  readonly #sampleRate: number;
  readonly #mode: number;
  readonly #sub: number;
  readonly #start: number;
  readonly #end: number;
  readonly #minSpeechSubs: number;
  readonly #hangoverMs: number;
  readonly #ring: Uint8Array;
  #heap: Int16Array;
  #ringPos = 0;
  #ringSum = 0;
  #prob = 0;
  #timeMs = 0;
  #speaking = false;
  #aboveSubs = 0;
  #onsetMs = -1;
  #startMs = 0;
  #lastVoicedEndMs = 0;
  #closed = false;

  constructor(fvad: LoadedFvad, opts: VadOptions) {
    if (opts.sampleRate !== 8000 && opts.sampleRate !== 16000) {
      throw new RangeError(`VAD sample rate must be 8000 or 16000, not ${String(opts.sampleRate)}`);
    }
    const windowMs = opts.windowMs ?? VAD_DEFAULTS.windowMs;
    this.#mod = fvad.mod;
    this.#memory = fvad.memory;
    this.#sampleRate = opts.sampleRate;
    this.#mode = opts.mode ?? VAD_DEFAULTS.mode;
    this.#sub = opts.sampleRate / 100;
    this.#start = opts.startThreshold ?? VAD_DEFAULTS.startThreshold;
    this.#end = Math.min(opts.endThreshold ?? VAD_DEFAULTS.endThreshold, this.#start);
    this.#minSpeechSubs = Math.max(1, Math.round((opts.minSpeechMs ?? VAD_DEFAULTS.minSpeechMs) / 10));
    this.#hangoverMs = Math.max(0, opts.hangoverMs ?? VAD_DEFAULTS.hangoverMs);
    this.#ring = new Uint8Array(Math.max(1, Math.round(windowMs / 10)));
    this.#handle = this.#mod._fvad_new();
    this.#ptr = this.#mod._malloc(SUB_BYTES);
    if (this.#handle === 0 || this.#ptr === 0) throw new Error('fvad-wasm: out of memory');
    this.#configure();
    this.#heap = new Int16Array(this.#memory.buffer);
    finalizer.register(this, { mod: this.#mod, handle: this.#handle, ptr: this.#ptr }, this);
  }

  get speaking(): boolean {
    return this.#speaking;
  }

  process(frame: Int16Array): number {
    const sub = this.#sub;
    if (this.#closed || frame.length === 0 || frame.length % sub !== 0) {
      this.invalidFrames++;
      return this.#prob;
    }
    // Memory growth (another VAD's malloc) detaches the old view; re-view only then.
    if (this.#heap.buffer !== this.#memory.buffer) this.#heap = new Int16Array(this.#memory.buffer);
    const heap = this.#heap;
    const base = this.#ptr >> 1;
    for (let off = 0; off < frame.length; off += sub) {
      for (let i = 0; i < sub; i++) heap[base + i] = frame[off + i]!;
      const voiced = this.#mod._fvad_process(this.#handle, this.#ptr, sub) === 1 && this.#timeMs >= WARMUP_MS ? 1 : 0;
      this.#step(voiced);
    }
    return this.#prob;
  }

  /** One 10 ms decision: smoothing, then the start / end state machine. */
  #step(voiced: number): void {
    const ring = this.#ring;
    this.#ringSum += voiced - ring[this.#ringPos]!;
    ring[this.#ringPos] = voiced;
    this.#ringPos = this.#ringPos + 1 === ring.length ? 0 : this.#ringPos + 1;
    this.#prob = this.#ringSum / ring.length;
    const t0 = this.#timeMs;
    this.#timeMs = t0 + 10;
    if (voiced) this.#lastVoicedEndMs = this.#timeMs;

    if (!this.#speaking) {
      // Onset = first voiced 10 ms after the window was all silence.
      if (this.#ringSum === 0) this.#onsetMs = -1;
      else if (voiced && this.#onsetMs < 0) this.#onsetMs = t0;
      this.#aboveSubs = this.#prob >= this.#start ? this.#aboveSubs + 1 : 0;
      if (this.#aboveSubs >= this.#minSpeechSubs) {
        this.#speaking = true;
        this.#startMs = this.#onsetMs < 0 ? t0 : this.#onsetMs;
        this.onSpeechStart?.(this.#startMs);
      }
    } else if (this.#prob < this.#end && this.#timeMs - this.#lastVoicedEndMs >= this.#hangoverMs) {
      this.#speaking = false;
      this.#aboveSubs = 0;
      this.#onsetMs = -1;
      const endMs = this.#lastVoicedEndMs;
      this.onSpeechEnd?.(endMs, endMs - this.#startMs);
    }
  }

  reset(): void {
    this.#mod._fvad_reset(this.#handle);
    this.#configure();
    this.#ring.fill(0);
    this.#ringPos = 0;
    this.#ringSum = 0;
    this.#prob = 0;
    this.#timeMs = 0;
    this.#speaking = false;
    this.#aboveSubs = 0;
    this.#onsetMs = -1;
    this.#startMs = 0;
    this.#lastVoicedEndMs = 0;
  }

  /** Frees the wasm-side state now (otherwise done when garbage collected). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    finalizer.unregister(this);
    this.#mod._fvad_free(this.#handle);
    this.#mod._free(this.#ptr);
  }

  #configure(): void {
    // fvad_reset restores mode 0 / 8 kHz, so both are set again after every reset.
    this.#mod._fvad_set_mode(this.#handle, this.#mode);
    this.#mod._fvad_set_sample_rate(this.#handle, this.#sampleRate);
  }
}

/** Creates a VAD; the wasm module loads on the first call only, so one VAD per call is cheap. */
export async function createVad(opts: VadOptions): Promise<Vad> {
  return new WebRtcVad(await loadFvad(), opts);
}
