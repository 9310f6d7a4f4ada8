/**
 * Fixed-size framing: carriers send audio in whatever chunk sizes they like (Twilio 20 ms, some 10 ms, some
 * 100+ ms, TTS providers arbitrary), while VAD, DTMF and pacing want exact 20 ms frames.
 *
 * One buffer of exactly one frame per slicer, and every frame is handed out in it: copying 160-640 bytes costs less
 * than allocating a subarray view per frame, and the frame is always 2-byte aligned at offset 0, so pcm16
 * consumers can view it as Int16Array without another copy. No allocation per frame.
 */
import { type AudioFormat, bytesPerMs } from './format.js';

/** Bytes in one `ms` millisecond frame of `format` (20 ms mu-law 8 kHz = 160, pcm16 16 kHz = 640). */
export function frameBytes(format: AudioFormat, ms = 20): number {
  return bytesPerMs(format, ms);
}

export class FrameSlicer {
  readonly frameBytes: number;
  private readonly buf: Uint8Array;
  private fill = 0;

  constructor(frameBytes: number) {
    if (!Number.isInteger(frameBytes) || frameBytes <= 0) {
      throw new RangeError(`FrameSlicer: frame size must be a positive whole number of bytes, got ${frameBytes}`);
    }
    this.frameBytes = frameBytes;
    this.buf = new Uint8Array(frameBytes);
  }

  /** Bytes held back waiting for the rest of a frame (always < frameBytes). */
  get buffered(): number {
    return this.fill;
  }

  /**
   * Re-chunk `data` into whole frames, calling `onFrame` for each in order. The frame is the slicer's own buffer,
   * valid only during the call: copy it to keep it.
   */
  push(data: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    const size = this.frameBytes;
    const buf = this.buf;
    const n = data.length;
    let offset = 0;
    while (offset < n) {
      const take = Math.min(size - this.fill, n - offset);
      // A byte loop rather than set(subarray()): no view object per frame.
      for (let i = 0, j = this.fill; i < take; i++, j++) buf[j] = data[offset + i]!;
      this.fill += take;
      offset += take;
      if (this.fill === size) {
        this.fill = 0;
        onFrame(buf);
      }
    }
  }

  /**
   * The partial frame left over, or null when nothing is buffered. With `padWith` (a byte value: 0xff is mu-law
   * silence, 0xd5 A-law, 0 pcm16), the frame is padded to full size; otherwise only the buffered bytes are
   * returned. A view valid until the next push; the slicer is empty afterwards.
   */
  flush(padWith?: number): Uint8Array | null {
    if (this.fill === 0) return null;
    const n = this.fill;
    this.fill = 0;
    if (padWith === undefined) return this.buf.subarray(0, n);
    this.buf.fill(padWith & 0xff, n);
    return this.buf;
  }

  /** Drop anything buffered (e.g. on `clear` / barge-in). */
  reset(): void {
    this.fill = 0;
  }
}
