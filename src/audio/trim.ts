import { type AudioChunk, type AudioFormat, bytesPerSample } from './format.js';
import { alawToLinear, mulawToLinear } from './g711.js';

/**
 * Leading and trailing silence trimmed from a stream of TTS audio (one synthesis = one stream), as it arrives:
 *
 *   leading:  chunks are dropped until the first audible sample; `prerollMs` before it are kept (the attack of a
 *             soft consonant), taken from the previous chunk when the onset is at the start of one.
 *   trailing: a quiet run at the end of what arrived so far is sent up to `keepTailMs` (the pause a clause ends
 *             with is kept that long anyway) and only the rest is held back: sent when audible audio follows
 *             (a pause inside the text), dropped by end().
 *
 * Offline flite starts every sentence with ~360 ms of silence and cloud TTS with 50-200 ms; without this the
 * caller waits that long for the first word. Output chunks are views over the input (no copies).
 */
export interface TrimOptions {
  /** Audible above this level, dBFS (peak). */
  thresholdDb?: number;
  prerollMs?: number;
  keepTailMs?: number;
}

export const TRIM_DEFAULTS: Required<TrimOptions> = { thresholdDb: -50, prerollMs: 5, keepTailMs: 120 };

/** Peak amplitude (of 32768) at `db` dBFS. */
export function amplitudeOf(db: number): number {
  return Math.round(32768 * 10 ** (db / 20));
}

/** Absolute value of sample `i` of `data` in `format`. */
function level(data: Uint8Array, format: AudioFormat, i: number): number {
  switch (format.encoding) {
    case 'mulaw':
      return Math.abs(mulawToLinear(data[i]!));
    case 'alaw':
      return Math.abs(alawToLinear(data[i]!));
    default: {
      const v = data[2 * i]! | (data[2 * i + 1]! << 8);
      return Math.abs(v >= 0x8000 ? v - 0x10000 : v);
    }
  }
}

/** Index of the first sample of `chunk` at or above `amp`, or -1. */
export function firstAudible(chunk: AudioChunk, amp: number): number {
  const n = chunk.data.byteLength / bytesPerSample(chunk.format);
  for (let i = 0; i < n; i++) if (level(chunk.data, chunk.format, i) >= amp) return i;
  return -1;
}

function lastAudible(chunk: AudioChunk, amp: number): number {
  const n = chunk.data.byteLength / bytesPerSample(chunk.format);
  for (let i = n - 1; i >= 0; i--) if (level(chunk.data, chunk.format, i) >= amp) return i;
  return -1;
}

/** Samples [from, to) of `chunk` as a view (no words: the caller carries timings separately). */
export function part(chunk: AudioChunk, from: number, to: number): AudioChunk {
  const b = bytesPerSample(chunk.format);
  return { format: chunk.format, data: chunk.data.subarray(from * b, to * b) };
}

export class SilenceTrimmer {
  private readonly amp: number;
  private readonly prerollMs: number;
  private readonly keepTailMs: number;
  private leading = true;
  /** The last chunk dropped as leading silence (its end is the preroll of an onset at the next chunk's start). */
  private prev: AudioChunk | undefined;
  /** Quiet samples of the current trailing run already sent. */
  private tailSent = 0;
  private readonly held: AudioChunk[] = [];
  private readonly out: AudioChunk[] = [];
  /** Samples dropped before the first one sent (input time: word timings are shifted by it). */
  leadSamples = 0;
  /** Samples of trailing silence dropped by end(). */
  tailSamples = 0;

  constructor(opts: TrimOptions = {}) {
    const o = { ...TRIM_DEFAULTS, ...opts };
    this.amp = amplitudeOf(o.thresholdDb);
    this.prerollMs = o.prerollMs;
    this.keepTailMs = o.keepTailMs;
  }

  /** Whether audible audio has been seen yet. */
  get started(): boolean {
    return !this.leading;
  }

  /** The chunks to send now for `chunk`, in order (a reused array: read it before the next push). */
  push(chunk: AudioChunk): readonly AudioChunk[] {
    const out = this.out;
    out.length = 0;
    const n = chunk.data.byteLength / bytesPerSample(chunk.format);
    if (n === 0) return out;
    let start = 0;
    if (this.leading) {
      const i = firstAudible(chunk, this.amp);
      if (i < 0) {
        this.leadSamples += n;
        this.prev = chunk;
        return out;
      }
      const pre = Math.round((this.prerollMs * chunk.format.sampleRate) / 1000);
      start = Math.max(0, i - pre);
      const fromPrev = pre - (i - start);
      if (fromPrev > 0 && this.prev) {
        const pn = this.prev.data.byteLength / bytesPerSample(this.prev.format);
        const k = Math.min(pn, fromPrev);
        out.push(part(this.prev, pn - k, pn));
        this.leadSamples -= k;
      }
      this.leadSamples += start;
      this.leading = false;
      this.prev = undefined;
    }
    const j = lastAudible(chunk, this.amp);
    if (j >= start) {
      // Audible audio: a held quiet run was a pause inside the speech.
      for (const h of this.held) out.push(h);
      this.held.length = 0;
      this.tailSent = 0;
      out.push(part(chunk, start, j + 1));
      start = j + 1;
    }
    if (start < n) this.quiet(part(chunk, start, n));
    return out;
  }

  /** The stream is over: held trailing silence is dropped. */
  end(): void {
    for (const h of this.held) this.tailSamples += h.data.byteLength / bytesPerSample(h.format);
    this.held.length = 0;
    this.prev = undefined;
  }

  private quiet(q: AudioChunk): void {
    const n = q.data.byteLength / bytesPerSample(q.format);
    const keep = Math.round((this.keepTailMs * q.format.sampleRate) / 1000);
    const send = Math.max(0, Math.min(n, keep - this.tailSent));
    if (send > 0) this.out.push(send === n ? q : part(q, 0, send));
    this.tailSent += send;
    if (send < n) this.held.push(send === 0 ? q : part(q, send, n));
  }
}
