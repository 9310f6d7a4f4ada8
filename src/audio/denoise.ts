import type { RnnoiseModule } from '@jitsi/rnnoise-wasm/dist/rnnoise-sync.js';
import { Resampler } from './resample.js';

/**
 * Noise suppression with RNNoise (xiph, a small recurrent network; @jitsi/rnnoise-wasm's build, the wasm inlined
 * in the package, nothing fetched at run time). RNNoise takes 10 ms frames of 480 samples at 48 kHz, so a call's
 * 8 or 16 kHz audio is resampled up, denoised frame by frame and resampled back:
 *
 *   20 ms in (160 / 320) ─▶ 48 kHz (960) ─▶ 2 x rnnoise_process_frame(480) ─▶ back to the call rate ─▶ FIFO ─▶ out
 *
 * The FIFO gives back exactly as many samples as came in; the two resampling filters' group delay (about 1 ms)
 * comes out as a constant lag. One wasm module per process (loaded once), one RNNoise state per call. Per frame:
 * no allocation (resampler and FIFO buffers are reused; the heap view is the module's own).
 */
const RN_RATE = 48_000;
const RN_FRAME = 480;

let loading: Promise<RnnoiseModule> | undefined;

function loadRnnoise(): Promise<RnnoiseModule> {
  loading ??= import('@jitsi/rnnoise-wasm/dist/rnnoise-sync.js').then((m) => m.default());
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

export class Denoiser {
  readonly sampleRate: number;
  private readonly m: RnnoiseModule;
  private readonly state: number;
  private readonly ptr: number;
  private readonly up: Resampler;
  private readonly down: Resampler;
  /** 48 kHz samples waiting for a full RNNoise frame. */
  private readonly acc = new Int16Array(RN_FRAME * 4);
  private accN = 0;
  private readonly frameOut = new Int16Array(RN_FRAME);
  /** Denoised audio at the call rate, waiting to be handed out. */
  private fifo: Int16Array;
  private fifoN = 0;
  private out = new Int16Array(320);
  private closed = false;
  /** Voice probability RNNoise gave the last frame, 0..1. */
  lastVoice = 0;

  constructor(m: RnnoiseModule, sampleRate: number) {
    this.m = m;
    this.sampleRate = sampleRate;
    this.state = m._rnnoise_create();
    this.ptr = m._malloc(RN_FRAME * 4);
    this.up = new Resampler(sampleRate, RN_RATE);
    this.down = new Resampler(RN_RATE, sampleRate);
    this.fifo = new Int16Array(sampleRate / 10);
  }

  /** Denoise one frame; returns as many samples (a view, valid until the next call). */
  process(pcm: Int16Array): Int16Array {
    if (this.closed) return pcm;
    const hi = this.up.process(pcm);
    let i = 0;
    while (i < hi.length) {
      const k = Math.min(hi.length - i, this.acc.length - this.accN);
      this.acc.set(hi.subarray(i, i + k), this.accN);
      this.accN += k;
      i += k;
      this.drainFrames();
    }
    const n = pcm.length;
    if (this.out.length < n) this.out = new Int16Array(n);
    const out = this.out.subarray(0, n);
    // Until the filters have filled, the first samples are silence (a constant lag, then exactly n per n).
    const have = Math.min(n, this.fifoN);
    const lead = n - have;
    out.fill(0, 0, lead);
    out.set(this.fifo.subarray(0, have), lead);
    this.fifo.copyWithin(0, have, this.fifoN);
    this.fifoN -= have;
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.m._rnnoise_destroy(this.state);
    this.m._free(this.ptr);
  }

  private drainFrames(): void {
    let off = 0;
    while (this.accN - off >= RN_FRAME) {
      const heap = this.m.HEAPF32;
      const base = this.ptr >> 2;
      for (let j = 0; j < RN_FRAME; j++) heap[base + j] = this.acc[off + j]!;
      this.lastVoice = this.m._rnnoise_process_frame(this.state, this.ptr, this.ptr);
      const f = this.frameOut;
      for (let j = 0; j < RN_FRAME; j++) {
        const v = Math.round(heap[base + j]!);
        f[j] = Math.min(32767, Math.max(-32768, v));
      }
      this.push(this.down.process(f));
      off += RN_FRAME;
    }
    if (off > 0) {
      this.acc.copyWithin(0, off, this.accN);
      this.accN -= off;
    }
  }

  private push(x: Int16Array): void {
    if (this.fifoN + x.length > this.fifo.length) {
      const grown = new Int16Array((this.fifoN + x.length) * 2);
      grown.set(this.fifo.subarray(0, this.fifoN));
      this.fifo = grown;
    }
    this.fifo.set(x, this.fifoN);
    this.fifoN += x.length;
  }
}

/** A denoiser for audio at `sampleRate` (any rate the resampler takes; calls are 8 or 16 kHz). */
export async function createDenoiser(sampleRate: number): Promise<Denoiser> {
  return new Denoiser(await loadRnnoise(), sampleRate);
}
