/**
 * Stereo call recording: caller on the left channel, agent on the right, both placed on one sample clock so that
 * barge-ins and overlaps sound as they happened. The clock is the caller's audio (one sample per sample received);
 * the agent's audio is placed at the caller-clock sample where its playback started (`atSample`), or appended.
 *
 * Memory is bounded: samples live in one sliding window (default 30 s). What falls out of the window (or is older
 * than `holdbackMs` behind the newest sample at a periodic flush) is final: appended to the file when streaming
 * (`open(path)`), or kept in memory for `toWav()` when not. Writes older than the window are dropped and counted.
 *
 * Streaming files are written with RIFF/data sizes of 0xffffffff ("to the end", which readWav and ffmpeg accept),
 * so a recording cut short by a crash is still readable; close() patches in the real sizes.
 */
import { type FileHandle, open as openFile } from 'node:fs/promises';
import { encodeWav } from './wav.js';

export interface StereoRecorderOptions {
  /** Hz; calls record at 8000 or 16000. */
  sampleRate: number;
  /** Length of the in-memory window, seconds. */
  windowSeconds?: number;
  /** A periodic flush leaves the newest `holdbackMs` in the window, so slightly late agent audio still lands. */
  holdbackMs?: number;
  /** How often a streaming recorder writes finished audio to disk, ms. */
  flushIntervalMs?: number;
}

const CALLER = 0;
const AGENT = 1;
const WAV_HEADER_BYTES = 44;

export class StereoRecorder {
  readonly sampleRate: number;
  private readonly capacity: number; // frames in the window
  private readonly holdback: number; // frames
  private readonly flushIntervalMs: number;
  /** Interleaved [caller, agent] frames base .. base + capacity. */
  private readonly window: Int16Array;
  private base = 0;
  private readonly cursor = [0, 0];
  private dropped = 0;
  /** Finished audio in memory mode. */
  private readonly finished: Int16Array[] = [];
  private file: FileHandle | null = null;
  private path: string | null = null;
  private writeChain: Promise<void> = Promise.resolve();
  private writeError: Error | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;

  constructor(options: StereoRecorderOptions) {
    const { sampleRate, windowSeconds = 30, holdbackMs = 2000, flushIntervalMs = 1000 } = options;
    if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
      throw new RangeError(`StereoRecorder: sample rate must be a positive integer, got ${sampleRate}`);
    }
    this.sampleRate = sampleRate;
    this.capacity = Math.max(1, Math.round(windowSeconds * sampleRate));
    this.holdback = Math.min(this.capacity, Math.round((holdbackMs * sampleRate) / 1000));
    this.flushIntervalMs = flushIntervalMs;
    this.window = new Int16Array(this.capacity * 2);
  }

  /** Caller samples recorded so far: the recording clock. */
  get callerSamples(): number {
    return this.cursor[CALLER]!;
  }

  /** End of the agent's latest audio on the recording clock. */
  get agentSamples(): number {
    return this.cursor[AGENT]!;
  }

  /** Length of the recording, samples per channel. */
  get lengthSamples(): number {
    return Math.max(this.cursor[CALLER]!, this.cursor[AGENT]!);
  }

  /** Samples dropped because they arrived for a time already written out (or after close). */
  get droppedSamples(): number {
    return this.dropped;
  }

  /** Frames currently held in memory (bounded by the window). */
  get bufferedSamples(): number {
    return Math.max(0, this.lengthSamples - this.base);
  }

  /** Caller audio, appended at the caller cursor or placed at `atSample`. */
  writeCaller(pcm: Int16Array, atSample?: number): void {
    this.write(CALLER, pcm, atSample);
  }

  /** Agent audio, placed at `atSample` on the caller clock (e.g. when its playback started), or appended. */
  writeAgent(pcm: Int16Array, atSample?: number): void {
    this.write(AGENT, pcm, atSample);
  }

  private write(ch: number, pcm: Int16Array, atSample: number | undefined): void {
    if (this.closing) {
      this.dropped += pcm.length;
      return;
    }
    let start = atSample === undefined ? this.cursor[ch]! : Math.floor(atSample);
    if (!(start >= 0)) start = this.cursor[ch]!; // NaN / negative: treat as "append"
    const n = pcm.length;
    // More than a window ahead of the recording is not a real playback position (bad input): drop, count.
    if (start > this.lengthSamples + this.capacity) {
      this.dropped += n;
      return;
    }
    let i = 0;
    // Samples for time already written out are late: drop them, count them.
    if (start < this.base) {
      const late = Math.min(n, this.base - start);
      this.dropped += late;
      i = late;
    }
    const win = this.window;
    while (i < n) {
      const frame = start + i;
      // Make room for the rest of the write (or as much of it as the window holds).
      if (frame >= this.base + this.capacity) this.advance(Math.min(frame, start + n - this.capacity));
      const end = Math.min(n, this.base + this.capacity - start);
      for (let k = (start + i - this.base) * 2 + ch; i < end; i++, k += 2) {
        // Overlapping audio on one channel (e.g. two prompts) is mixed, saturating.
        const v = win[k]! + pcm[i]!;
        win[k] = v > 32767 ? 32767 : v < -32768 ? -32768 : v | 0;
      }
    }
    if (start + n > this.cursor[ch]!) this.cursor[ch] = start + n;
  }

  /** Move frames [base, newBase) out of the window to the file or the finished list. */
  private advance(newBase: number): void {
    const k = Math.min(newBase, this.base + this.capacity) - this.base;
    if (k <= 0) return;
    const out = this.window.slice(0, k * 2);
    this.window.copyWithin(0, k * 2);
    this.window.fill(0, (this.capacity - k) * 2);
    const position = WAV_HEADER_BYTES + this.base * 4;
    this.base += k;
    // A jump past the whole window: the frames in between are silence (a hole in the file reads as zeros).
    const gap = newBase - this.base;
    if (gap > 0) this.base = newBase;
    if (this.file) {
      const fh = this.file;
      this.writeChain = this.writeChain
        .then(async () => {
          await fh.write(new Uint8Array(out.buffer), 0, out.byteLength, position);
        })
        .catch((err: Error) => {
          this.writeError ??= err;
        });
    } else {
      this.finished.push(out);
      if (gap > 0) this.finished.push(new Int16Array(gap * 2));
    }
  }

  /** Stream the recording to `path` from now on (what is already finished is written first). */
  async open(path: string): Promise<void> {
    if (this.file || this.closing) throw new Error('StereoRecorder: already streaming or closed');
    const fh = await openFile(path, 'w');
    this.file = fh;
    this.path = path;
    const header = encodeWav(new Int16Array(0), this.sampleRate, 2);
    const view = new DataView(header.buffer);
    view.setUint32(4, 0xffffffff, true); // sizes unknown until close(): "to the end"
    view.setUint32(40, 0xffffffff, true);
    let position = WAV_HEADER_BYTES;
    const earlier = this.finished.splice(0);
    this.writeChain = this.writeChain.then(async () => {
      await fh.write(header, 0, header.length, 0);
      for (const chunk of earlier) {
        await fh.write(new Uint8Array(chunk.buffer), 0, chunk.byteLength, position);
        position += chunk.byteLength;
      }
    });
    await this.writeChain;
    this.timer = setInterval(() => {
      void this.flush();
    }, this.flushIntervalMs);
    this.timer.unref();
  }

  /** Write out everything older than the holdback (streaming), and wait for the disk. */
  async flush(): Promise<void> {
    if (this.file) this.advance(this.lengthSamples - this.holdback);
    await this.writeChain;
  }

  /** The whole recording as a stereo 16-bit WAV (in-memory recordings only). */
  toWav(): Uint8Array {
    if (this.file || this.path)
      throw new Error(`StereoRecorder: toWav() is for in-memory recordings; this one streams to ${this.path}`);
    const frames = this.lengthSamples;
    const all = new Int16Array(frames * 2);
    let o = 0;
    for (const chunk of this.finished) {
      all.set(chunk.subarray(0, Math.min(chunk.length, all.length - o)), o);
      o += chunk.length;
    }
    if (o < all.length) all.set(this.window.subarray(0, all.length - o), o);
    return encodeWav(all, this.sampleRate, 2);
  }

  /**
   * Finish the file: write the rest, patch the RIFF/data sizes, close. Idempotent; rejects if a disk write failed.
   * Without open(), only stops accepting audio (toWav() still works).
   */
  close(): Promise<void> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private async finish(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const fh = this.file;
    if (!fh) return;
    const frames = this.lengthSamples;
    this.advance(frames);
    await this.writeChain;
    try {
      if (this.writeError) throw this.writeError;
      const sizes = new Uint8Array(4);
      const view = new DataView(sizes.buffer);
      const dataBytes = frames * 4;
      view.setUint32(0, WAV_HEADER_BYTES - 8 + dataBytes, true);
      await fh.write(sizes, 0, 4, 4);
      view.setUint32(0, dataBytes, true);
      await fh.write(sizes, 0, 4, 40);
      await fh.truncate(WAV_HEADER_BYTES + dataBytes);
    } finally {
      this.file = null;
      await fh.close();
    }
  }
}
