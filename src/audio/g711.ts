/**
 * ITU-T G.711 mu-law and A-law, table driven.
 *
 * G.711 quantizes 14-bit (mu-law) and 13-bit (A-law) linear samples with the decision levels of its tables 1a/2a.
 * A 16-bit sample is first rounded to nearest 14/13-bit value (saturating at full scale), then coded with those
 * exact decision levels (Sun / CCITT reference g711.c). This is bit-exact with sox (proved on all 65536 inputs
 * in test/audio/g711.test.ts). ffmpeg's pcm_mulaw / pcm_alaw pick the nearest reconstruction value instead, which
 * differs by one code at some segment boundaries; decoding is identical in all three (all 256 codes).
 *
 * Hot path: one table lookup per sample. Encoding indexes a 64K-entry table by the raw 16-bit pattern
 * (`s & 0xffff`), so there is no branch, shift or clamp per sample. Tables are built once at module load
 * (64 KiB + 64 KiB + 2 x 512 B).
 */

const MULAW_BIAS = 0x84; // G.711 table 2a: bias 33 in 14-bit units = 132 in 16-bit units (decoder)
const MULAW_BIAS14 = 0x21; // the same bias in the 14-bit domain the encoder works in
const MULAW_CLIP14 = 8159; // largest 14-bit magnitude that still fits segment 7 after the bias

/** Reference mu-law encoder (Sun g711.c linear2ulaw on 14-bit input); used only to build the table. */
function encodeMulawRef(pcm: number): number {
  let s = Math.min((pcm + 2) >> 2, 8191); // round 16 -> 14 bits, saturating
  let mask: number;
  if (s < 0) {
    s = -s;
    mask = 0x7f;
  } else {
    mask = 0xff;
  }
  if (s > MULAW_CLIP14) s = MULAW_CLIP14;
  s += MULAW_BIAS14;
  // Segment: 0 for s <= 0x3f, 1 for <= 0x7f, ... 7 for <= 0x1fff (G.711 table 2a).
  let seg = 0;
  for (let v = s >> 6; v > 0; v >>= 1) seg++;
  if (seg >= 8) return 0x7f ^ mask; // full-scale input lands exactly on 0x2000 after the bias
  return ((seg << 4) | ((s >> (seg + 1)) & 0x0f)) ^ mask;
}

/** Reference mu-law decoder (G.711 table 2a reconstruction values, scaled to 16 bits). */
function decodeMulawRef(code: number): number {
  const u = ~code & 0xff;
  let t = ((u & 0x0f) << 3) + MULAW_BIAS;
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? MULAW_BIAS - t : t - MULAW_BIAS;
}

/** Reference A-law encoder (Sun g711.c linear2alaw on 13-bit input, even bits inverted with 0x55). */
function encodeAlawRef(pcm: number): number {
  let s = Math.min((pcm + 4) >> 3, 4095); // round 16 -> 13 bits, saturating
  let mask: number;
  if (s >= 0) {
    mask = 0xd5; // sign bit set for positive, then even-bit inversion (0x55)
  } else {
    mask = 0x55;
    s = -s - 1;
  }
  // Segment: 0 for s <= 0x1f, 1 for <= 0x3f, ... 7 for <= 0xfff (G.711 table 1a).
  let seg = 0;
  for (let v = s >> 5; v > 0; v >>= 1) seg++;
  if (seg >= 8) return 0x7f ^ mask;
  const mant = seg < 2 ? (s >> 1) & 0x0f : (s >> seg) & 0x0f;
  return ((seg << 4) | mant) ^ mask;
}

/** Reference A-law decoder (G.711 table 1a reconstruction values, scaled to 16 bits). */
function decodeAlawRef(code: number): number {
  const a = code ^ 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

const MULAW_DECODE = new Int16Array(256);
const ALAW_DECODE = new Int16Array(256);
const MULAW_ENCODE = new Uint8Array(65536);
const ALAW_ENCODE = new Uint8Array(65536);

for (let c = 0; c < 256; c++) {
  MULAW_DECODE[c] = decodeMulawRef(c);
  ALAW_DECODE[c] = decodeAlawRef(c);
}
for (let i = 0; i < 65536; i++) {
  const s = i >= 32768 ? i - 65536 : i; // index is the raw 16-bit two's-complement pattern
  MULAW_ENCODE[i] = encodeMulawRef(s);
  ALAW_ENCODE[i] = encodeAlawRef(s);
}

export function linearToMulaw(s: number): number {
  return MULAW_ENCODE[s & 0xffff]!;
}

export function mulawToLinear(b: number): number {
  return MULAW_DECODE[b & 0xff]!;
}

export function linearToAlaw(s: number): number {
  return ALAW_ENCODE[s & 0xffff]!;
}

export function alawToLinear(b: number): number {
  return ALAW_DECODE[b & 0xff]!;
}

function decodeWith(table: Int16Array, src: Uint8Array, dst: Int16Array | undefined): Int16Array {
  const n = src.length;
  let out: Int16Array;
  if (dst) {
    if (dst.length < n) throw new RangeError(`G.711 decode: dst holds ${dst.length} samples, need ${n}`);
    out = dst.length === n ? dst : dst.subarray(0, n);
  } else {
    out = new Int16Array(n);
  }
  for (let i = 0; i < n; i++) out[i] = table[src[i]!]!;
  return out;
}

function encodeWith(table: Uint8Array, src: Int16Array, dst: Uint8Array | undefined): Uint8Array {
  const n = src.length;
  let out: Uint8Array;
  if (dst) {
    if (dst.length < n) throw new RangeError(`G.711 encode: dst holds ${dst.length} bytes, need ${n}`);
    out = dst.length === n ? dst : dst.subarray(0, n);
  } else {
    out = new Uint8Array(n);
  }
  for (let i = 0; i < n; i++) out[i] = table[src[i]! & 0xffff]!;
  return out;
}

/** mu-law bytes -> PCM16. With `dst`, writes into it and returns a view of length src.length. */
export function mulawDecode(src: Uint8Array, dst?: Int16Array): Int16Array {
  return decodeWith(MULAW_DECODE, src, dst);
}

/** PCM16 -> mu-law bytes. With `dst`, writes into it and returns a view of length src.length. */
export function mulawEncode(src: Int16Array, dst?: Uint8Array): Uint8Array {
  return encodeWith(MULAW_ENCODE, src, dst);
}

/** A-law bytes -> PCM16. With `dst`, writes into it and returns a view of length src.length. */
export function alawDecode(src: Uint8Array, dst?: Int16Array): Int16Array {
  return decodeWith(ALAW_DECODE, src, dst);
}

/** PCM16 -> A-law bytes. With `dst`, writes into it and returns a view of length src.length. */
export function alawEncode(src: Int16Array, dst?: Uint8Array): Uint8Array {
  return encodeWith(ALAW_ENCODE, src, dst);
}

/** Silence in each law (the code that decodes to 0 / the smallest positive step). */
export const MULAW_SILENCE = 0xff;
export const ALAW_SILENCE = 0xd5;
