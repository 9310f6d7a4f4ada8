/**
 * Base64 decoding into a buffer the caller reuses (hot path: one media message per 20 ms per call). Buffer.write
 * silently skips characters outside the alphabet, so the text is checked first: wrong base64 is bad input to count,
 * not audio to play.
 */
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

export class Base64Decoder {
  private buf: Buffer;
  private readonly maxBytes: number;

  constructor(initialBytes = 1024, maxBytes = 1 << 20) {
    this.buf = Buffer.allocUnsafe(initialBytes);
    this.maxBytes = maxBytes;
  }

  /** Decoded bytes as a view into the reused buffer (valid until the next call), or undefined when invalid. */
  decode(text: unknown): Uint8Array | undefined {
    if (typeof text !== 'string' || text.length % 4 !== 0 || !B64.test(text)) return undefined;
    const need = (text.length / 4) * 3;
    if (need > this.maxBytes) return undefined;
    if (need > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
    const n = this.buf.write(text, 0, 'base64');
    return this.buf.subarray(0, n);
  }
}

/** Base64 of a byte view without copying it first. */
export function toBase64(bytes: Uint8Array): string {
  if (Buffer.isBuffer(bytes)) return bytes.toString('base64');
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}
