/**
 * Format conversion between the engine's negotiated formats (DESIGN.md section 1): pcm16 (little-endian bytes),
 * mu-law and A-law, at any supported rate. The session inserts one AudioConverter only where two stages disagree;
 * an identity converter hands the input back untouched, so a mu-law 8 kHz call can flow with no transcoding.
 *
 * Hot path: decode -> resample -> encode through buffers owned by the converter (grown only when a larger chunk
 * than ever before arrives); the result is a view valid until the next call. pcm16 is read and written in host
 * byte order, which is little-endian on every platform Node 20 ships for (x64, arm64).
 */
import { type AudioFormat, sameFormat } from './format.js';
import { alawDecode, alawEncode, mulawDecode, mulawEncode } from './g711.js';
import { Resampler } from './resample.js';

const EMPTY_BYTES = new Uint8Array(0);

/** PCM16 little-endian bytes -> samples: a view when the bytes are 2-byte aligned, a copy otherwise. */
export function pcmBytesToInt16(bytes: Uint8Array): Int16Array {
  const n = bytes.length >> 1;
  if ((bytes.byteOffset & 1) === 0) return new Int16Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Int16Array(n);
  new Uint8Array(out.buffer).set(bytes.subarray(0, n * 2));
  return out;
}

/** Samples -> PCM16 little-endian bytes (a view over the same memory). */
export function int16ToBytes(pcm: Int16Array): Uint8Array {
  return new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
}

/**
 * Decode any engine format to PCM16 samples. With `dst`, writes into it and returns a view of the decoded length;
 * without, G.711 allocates and aligned pcm16 is returned as a view of `data`. A trailing odd pcm16 byte is ignored.
 */
export function decodeToPcm16(data: Uint8Array, format: AudioFormat, dst?: Int16Array): Int16Array {
  switch (format.encoding) {
    case 'mulaw':
      return mulawDecode(data, dst);
    case 'alaw':
      return alawDecode(data, dst);
    case 'pcm16': {
      if (!dst) return pcmBytesToInt16(data);
      const n = data.length >> 1;
      if (dst.length < n) throw new RangeError(`decodeToPcm16: dst holds ${dst.length} samples, need ${n}`);
      new Uint8Array(dst.buffer, dst.byteOffset, n * 2).set(data.subarray(0, n * 2));
      return dst.length === n ? dst : dst.subarray(0, n);
    }
  }
}

export class AudioConverter {
  readonly from: AudioFormat;
  readonly to: AudioFormat;
  /** True when from and to are the same format: convert() returns its input as is. */
  readonly identity: boolean;
  private readonly resampler: Resampler | null;
  /** Decoded input samples; its bytes view is where pcm16 input (plus a carried odd byte) is assembled. */
  private pcm: Int16Array;
  private pcmBytes: Uint8Array;
  /** The odd trailing byte of the last pcm16 input, or -1. */
  private carry = -1;
  private encoded: Uint8Array;
  private lastView: Uint8Array = EMPTY_BYTES;
  /** Exact-length views, kept while chunk sizes repeat (they do: 20 ms frames), so no view is made per call. */
  private pcmView: Int16Array;
  private encodedView: Uint8Array;

  constructor(from: AudioFormat, to: AudioFormat) {
    this.from = from;
    this.to = to;
    this.identity = sameFormat(from, to);
    this.resampler = from.sampleRate === to.sampleRate ? null : new Resampler(from.sampleRate, to.sampleRate);
    this.pcm = new Int16Array(960); // 20 ms at 48 kHz; grows on demand
    this.pcmBytes = new Uint8Array(this.pcm.buffer);
    this.encoded = new Uint8Array(960);
    this.pcmView = this.pcm.subarray(0, 0);
    this.encodedView = this.encoded.subarray(0, 0);
  }

  /** Convert the next chunk. Returns a view into an internal buffer, valid until the next call. */
  convert(input: Uint8Array): Uint8Array {
    if (this.identity) return input;
    let pcm = this.decode(input);
    if (this.resampler) pcm = this.resampler.process(pcm);
    return this.encode(pcm);
  }

  /** Drain the resampler's delay line (the output it still holds back). A carried half sample is dropped. */
  flush(): Uint8Array {
    this.carry = -1;
    if (this.identity || !this.resampler) return EMPTY_BYTES;
    return this.encode(this.resampler.flush());
  }

  /** A view of the first `samples` of the decode buffer (grown if needed). */
  private pcmOf(samples: number): Int16Array {
    if (this.pcm.length < samples) {
      this.pcm = new Int16Array(samples);
      this.pcmBytes = new Uint8Array(this.pcm.buffer);
    }
    if (this.pcmView.length !== samples || this.pcmView.buffer !== this.pcm.buffer) {
      this.pcmView = this.pcm.subarray(0, samples);
    }
    return this.pcmView;
  }

  private encodedOf(bytes: number): Uint8Array {
    if (this.encoded.length < bytes) this.encoded = new Uint8Array(bytes);
    if (this.encodedView.length !== bytes || this.encodedView.buffer !== this.encoded.buffer) {
      this.encodedView = this.encoded.subarray(0, bytes);
    }
    return this.encodedView;
  }

  private decode(input: Uint8Array): Int16Array {
    const enc = this.from.encoding;
    if (enc === 'pcm16') {
      const hasCarry = this.carry >= 0 ? 1 : 0;
      const total = input.length + hasCarry;
      const n = total >> 1;
      const view = this.pcmOf(n);
      const bytes = this.pcmBytes;
      if (hasCarry && n > 0) bytes[0] = this.carry;
      // Copy the bytes that complete whole samples; keep an odd last byte for the next call.
      const take = n * 2 - hasCarry;
      if (take > 0) bytes.set(take === input.length ? input : input.subarray(0, take), hasCarry);
      if (total & 1) this.carry = input.length > 0 ? input[input.length - 1]! : this.carry;
      else this.carry = -1;
      return view;
    }
    const dst = this.pcmOf(input.length);
    return enc === 'mulaw' ? mulawDecode(input, dst) : alawDecode(input, dst);
  }

  private encode(pcm: Int16Array): Uint8Array {
    const enc = this.to.encoding;
    if (enc === 'pcm16') return this.bytesView(pcm);
    const dst = this.encodedOf(pcm.length);
    return enc === 'mulaw' ? mulawEncode(pcm, dst) : alawEncode(pcm, dst);
  }

  /** A bytes view of `pcm`, reusing the previous view object when it covers the same memory. */
  private bytesView(pcm: Int16Array): Uint8Array {
    const v = this.lastView;
    if (v.buffer === pcm.buffer && v.byteOffset === pcm.byteOffset && v.length === pcm.byteLength) return v;
    this.lastView = new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
    return this.lastView;
  }
}
