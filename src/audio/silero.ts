/**
 * Silero VAD v5 (MIT, snakers4) on onnxruntime-web's WebAssembly backend: a small neural speech detector trained
 * against music and noise, which WebRTC's GMM VAD takes for speech (music on hold is 97 % voiced to it). The model
 * file ships inside the `@ricky0123/vad-web` npm package (silero_vad_v5.onnx, 2.3 MB); onnxruntime-web is pure
 * wasm (no install script, nothing downloaded). Silero v5 takes 8 and 16 kHz natively: chunks of 256 / 512 samples
 * (32 ms) with the previous 32 / 64 samples as context, and an LSTM state carried from chunk to chunk.
 *
 * One session per process (loaded once: ~15 MB of wasm compiled and the graph built, 0.7-1.5 s here), one SileroStream per call (its own state).
 * Inference is async (onnxruntime's API): a chunk's probability is there a fraction of a millisecond after its last
 * sample, so `prob` lags the audio by at most one 20 ms frame. Runs are serialized over the process (one wasm
 * thread); a stream that falls behind (a starved event loop) skips to its newest chunks rather than queueing.
 *
 * Measured on real audio (`npx voice-engine bench noise`; 2 cores, noisy machine): p50 0.28 ms per 32 ms chunk, i.e.
 * about 1 % of a core per call while it runs; the call stage (confirmed-vad.ts) runs it only while WebRTC hears
 * something. Short enough to run on the event loop (no worker thread). Music-on-hold tracks (asterisk-moh-opsound, 30 s each): 0-0.5 % of chunks >= 0.5; real speech
 * (asterisk-core-sounds-en): ~87 % (the rest are the pauses between words).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { InferenceSession, Tensor } from 'onnxruntime-web';

type Ort = typeof import('onnxruntime-web');

interface SileroModel {
  ort: Ort;
  session: InferenceSession;
}

let loading: Promise<SileroModel> | undefined;

/** The model's path inside the npm package that ships it. */
export function sileroModelPath(): string {
  return createRequire(import.meta.url).resolve('@ricky0123/vad-web/dist/silero_vad_v5.onnx');
}

/** Loads onnxruntime-web and the Silero v5 model once per process; a failed load is retried by the next call. */
export function loadSilero(): Promise<SileroModel> {
  loading ??= (async () => {
    const ort = await import('onnxruntime-web');
    // One wasm thread: no worker pool per process; a call's inference is well under a millisecond.
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = 'error';
    const session = await ort.InferenceSession.create(await readFile(sileroModelPath()), {
      executionProviders: ['wasm'],
    });
    // The first inference at each rate sets up its kernels (~150 ms measured): done here, not in a call's media loop.
    for (const [rate, n] of [
      [8000, 256 + 32],
      [16000, 512 + 64],
    ] as const) {
      await session.run({
        input: new ort.Tensor('float32', new Float32Array(n), [1, n]),
        state: new ort.Tensor('float32', new Float32Array(256), [2, 1, 128]),
        sr: new ort.Tensor('int64', BigInt64Array.from([BigInt(rate)]), []),
      });
    }
    return { ort, session };
  })();
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

/** Inference over the process, one at a time (the wasm backend has one thread; a session is not re-entrant). */
let chain: Promise<unknown> = Promise.resolve();

/** Process-wide inference figures (the bench prints them). */
export const sileroStats = { inferences: 0, ms: 0 };

/** Chunks of audio kept for warm-up and for a stream that falls behind. */
const RING_CHUNKS = 16;

export class SileroStream {
  /** Speech probability of the newest chunk inferred, 0..1. */
  prob = 0;
  /** Chunks inferred by this stream, and their time, ms. */
  inferences = 0;
  inferMs = 0;

  readonly chunk: number;
  private readonly m: SileroModel;
  private readonly ctxLen: number;
  /** The last RING_CHUNKS chunks of audio, float, chunk k at (k % RING_CHUNKS) * chunk. */
  private readonly ring: Float32Array;
  /** Index of the chunk being filled, and how many of its samples are in. */
  private filling = 0;
  private fillPos = 0;
  /** Next chunk to infer (runs while < filling and `running`). */
  private next = 0;
  private running = false;
  private busy = false;
  private closed = false;
  /** Bumped at every start: a run in flight from before it is dropped. */
  private gen = 0;
  private readonly input: Float32Array;
  private readonly inputTensor: Tensor;
  private readonly sr: Tensor;
  private state: Tensor;
  private readonly zeroState: Tensor;
  private idle: Promise<void> = Promise.resolve();

  constructor(m: SileroModel, sampleRate: 8000 | 16000) {
    this.m = m;
    this.chunk = sampleRate === 8000 ? 256 : 512;
    this.ctxLen = sampleRate === 8000 ? 32 : 64;
    this.ring = new Float32Array(RING_CHUNKS * this.chunk);
    this.input = new Float32Array(this.ctxLen + this.chunk);
    this.inputTensor = new m.ort.Tensor('float32', this.input, [1, this.input.length]);
    this.sr = new m.ort.Tensor('int64', BigInt64Array.from([BigInt(sampleRate)]), []);
    this.zeroState = new m.ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
    this.state = this.zeroState;
  }

  /** Audio in (PCM16, any length): kept in the ring; complete chunks are inferred while running. */
  push(pcm: Int16Array): void {
    const { ring, chunk } = this;
    let i = 0;
    while (i < pcm.length) {
      const base = (this.filling % RING_CHUNKS) * chunk;
      const n = Math.min(chunk - this.fillPos, pcm.length - i);
      for (let k = 0; k < n; k++) ring[base + this.fillPos + k] = pcm[i + k]! / 32768;
      this.fillPos += n;
      i += n;
      if (this.fillPos === chunk) {
        this.filling++;
        this.fillPos = 0;
      }
    }
    if (!this.running) this.next = this.filling;
    else if (!this.busy && this.next < this.filling) this.idle = this.pump();
  }

  /**
   * Start inferring from a fresh state, `warmupChunks` chunks back in the ring (the LSTM needs a few chunks to
   * settle, and they hold the speech's onset).
   */
  start(warmupChunks: number): void {
    if (this.running || this.closed) return;
    this.running = true;
    this.gen++;
    this.state = this.zeroState;
    this.input.fill(0);
    this.next = Math.max(0, this.filling - Math.min(warmupChunks, RING_CHUNKS - 1));
    if (!this.busy && this.next < this.filling) this.idle = this.pump();
  }

  /** Stop inferring (what is in flight finishes); the probability drops to 0. */
  stop(): void {
    this.running = false;
    this.prob = 0;
  }

  get active(): boolean {
    return this.running;
  }

  /** Resolves once every complete chunk pushed so far is inferred (tests, the bench). */
  async settled(): Promise<void> {
    while (this.busy) await this.idle;
  }

  close(): void {
    this.closed = true;
    this.running = false;
  }

  private async pump(): Promise<void> {
    this.busy = true;
    try {
      while (this.running && !this.closed && this.next < this.filling) {
        // Fell behind by more than the ring holds: go on from the oldest chunk still there.
        if (this.filling - this.next >= RING_CHUNKS) this.next = this.filling - RING_CHUNKS + 1;
        const { input, ctxLen, chunk } = this;
        // Context: the last ctxLen samples of the previous chunk (zeros after a start).
        input.copyWithin(0, chunk, chunk + ctxLen);
        const base = (this.next % RING_CHUNKS) * chunk;
        input.set(this.ring.subarray(base, base + chunk), ctxLen);
        this.next++;
        const gen = this.gen;
        const t0 = performance.now();
        const feeds = { input: this.inputTensor, state: this.state, sr: this.sr };
        const run = chain.then(() => this.m.session.run(feeds));
        chain = run.catch(() => undefined);
        const out = await run;
        const ms = performance.now() - t0;
        this.inferences++;
        this.inferMs += ms;
        sileroStats.inferences++;
        sileroStats.ms += ms;
        if (gen !== this.gen) continue;
        this.state = out.stateN as Tensor;
        if (this.running) this.prob = (out.output as Tensor).data[0] as number;
      }
    } catch {
      // A failed inference (should not happen with a loaded model): this stream stops deciding, prob stays 0.
      this.running = false;
      this.prob = 0;
    } finally {
      this.busy = false;
    }
  }
}

export async function createSileroStream(sampleRate: 8000 | 16000): Promise<SileroStream> {
  return new SileroStream(await loadSilero(), sampleRate);
}
