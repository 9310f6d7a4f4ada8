/**
 * WAV (RIFF/WAVE) read and write, including G.711 WAV (format tags 6 A-law and 7 mu-law, as 8 kHz call
 * recordings usually are), WAVE_FORMAT_EXTENSIBLE, LIST/INFO and other chunks, and odd-sized chunks (RIFF pads
 * every chunk to an even length).
 *
 * Our own parser rather than node-wav: node-wav reads only tags 1 and 3, converts to float, does not skip the pad
 * byte after an odd chunk, and throws a bare TypeError on bad input. Every problem here is a WavError whose message
 * says exactly what is wrong. (node-wav is used in the tests as an independent reader/writer to check against.)
 *
 * For files and fixtures, not per frame: reading allocates the decoded first channel.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { alawDecode, alawToLinear, mulawDecode, mulawToLinear } from './g711.js';

export type WavEncoding = 'pcm16' | 'mulaw' | 'alaw' | 'pcm8' | 'pcm24' | 'pcm32' | 'float32';

export interface WavData {
  /** Hz */
  sampleRate: number;
  channels: number;
  encoding: WavEncoding;
  /** The first channel, decoded to PCM16. */
  samples: Int16Array;
  /** The raw data chunk (a view into the input buffer), all channels interleaved. */
  data: Uint8Array;
  durationMs: number;
}

export class WavError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WavError';
  }
}

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_ALAW = 0x0006;
const WAVE_FORMAT_MULAW = 0x0007;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** Streaming writers (ffmpeg to a pipe) that cannot seek back leave chunk sizes at this value: "to the end". */
const SIZE_UNKNOWN = 0xffffffff;

function fourcc(buf: Uint8Array, at: number): string {
  return String.fromCharCode(buf[at]!, buf[at + 1]!, buf[at + 2]!, buf[at + 3]!);
}

interface Fmt {
  tag: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  blockAlign: number;
}

function parseFmt(view: DataView, at: number, size: number): Fmt {
  if (size < 16) throw new WavError(`fmt chunk too short: ${size} bytes, need at least 16`);
  let tag = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const bitsPerSample = view.getUint16(at + 14, true);
  if (tag === WAVE_FORMAT_EXTENSIBLE) {
    // WAVEFORMATEXTENSIBLE: cbSize(2) validBits(2) channelMask(4) then the SubFormat GUID, whose first two bytes
    // are the real format tag.
    if (size < 40) throw new WavError(`WAVE_FORMAT_EXTENSIBLE fmt chunk too short: ${size} bytes, need 40`);
    tag = view.getUint16(at + 24, true);
  }
  return { tag, channels, sampleRate, bitsPerSample, blockAlign };
}

function encodingOf(fmt: Fmt): WavEncoding {
  const { tag, bitsPerSample: bits } = fmt;
  if (tag === WAVE_FORMAT_PCM) {
    if (bits === 16) return 'pcm16';
    if (bits === 8) return 'pcm8';
    if (bits === 24) return 'pcm24';
    if (bits === 32) return 'pcm32';
    throw new WavError(`unsupported PCM bit depth: ${bits}`);
  }
  if (tag === WAVE_FORMAT_MULAW || tag === WAVE_FORMAT_ALAW) {
    if (bits !== 8) throw new WavError(`unsupported G.711 bit depth: ${bits} (expected 8)`);
    return tag === WAVE_FORMAT_MULAW ? 'mulaw' : 'alaw';
  }
  if (tag === WAVE_FORMAT_IEEE_FLOAT) {
    if (bits === 32) return 'float32';
    throw new WavError(`unsupported float bit depth: ${bits} (only 32-bit float)`);
  }
  throw new WavError(`unsupported WAV format tag 0x${tag.toString(16).padStart(4, '0')}`);
}

const BYTES: Record<WavEncoding, number> = { pcm16: 2, mulaw: 1, alaw: 1, pcm8: 1, pcm24: 3, pcm32: 4, float32: 4 };

/** First channel of interleaved `data` as PCM16. */
function firstChannel(data: Uint8Array, enc: WavEncoding, channels: number, frames: number): Int16Array {
  const out = new Int16Array(frames);
  const stride = BYTES[enc] * channels;
  if ((enc === 'mulaw' || enc === 'alaw') && channels === 1) {
    return enc === 'mulaw' ? mulawDecode(data.subarray(0, frames), out) : alawDecode(data.subarray(0, frames), out);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0, p = 0; i < frames; i++, p += stride) {
    switch (enc) {
      case 'pcm16':
        out[i] = view.getInt16(p, true);
        break;
      case 'mulaw':
        out[i] = mulawToLinear(data[p]!);
        break;
      case 'alaw':
        out[i] = alawToLinear(data[p]!);
        break;
      case 'pcm8':
        out[i] = (data[p]! - 128) << 8; // 8-bit WAV is unsigned, 128 = silence
        break;
      case 'pcm24':
        out[i] = view.getInt16(p + 1, true); // top 16 of 24 bits
        break;
      case 'pcm32':
        out[i] = view.getInt16(p + 2, true); // top 16 of 32 bits
        break;
      case 'float32': {
        const v = Math.round(view.getFloat32(p, true) * 32768);
        out[i] = Math.max(-32768, Math.min(32767, v));
        break;
      }
    }
  }
  return out;
}

/**
 * Parse a WAV file held in memory.
 *
 *   "RIFF" size "WAVE" { id(4) size(4, LE) payload [pad byte if size is odd] }*
 *
 * Chunks other than fmt and data are skipped; trailing bytes too short to be a chunk header are ignored.
 */
export function readWav(buf: Uint8Array): WavData {
  if (buf.length === 0) throw new WavError('empty file');
  const magic = buf.length >= 4 ? fourcc(buf, 0) : '';
  if (magic === 'RIFX') throw new WavError('big-endian WAV (RIFX) is not supported');
  if (magic === 'RF64') throw new WavError('64-bit WAV (RF64) is not supported');
  if (buf.length < 12 || magic !== 'RIFF') throw new WavError('not a WAV file (no RIFF header)');
  const form = fourcc(buf, 8);
  if (form !== 'WAVE') throw new WavError(`not a WAV file (RIFF form type '${form}', expected 'WAVE')`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let fmt: Fmt | null = null;
  let data: Uint8Array | null = null;
  let at = 12;
  while (at + 8 <= buf.length) {
    const id = fourcc(buf, at);
    const declared = view.getUint32(at + 4, true);
    const body = at + 8;
    const present = buf.length - body;
    if (id === 'data') {
      if (declared === SIZE_UNKNOWN) {
        data = buf.subarray(body);
      } else if (declared > present) {
        throw new WavError(`truncated: data chunk declares ${declared} bytes, ${present} present`);
      } else {
        data = buf.subarray(body, body + declared);
      }
      if (fmt) break;
    } else if (id === 'fmt ') {
      if (declared > present) throw new WavError(`truncated: fmt chunk declares ${declared} bytes, ${present} present`);
      fmt = parseFmt(view, body, declared);
      if (data) break;
    }
    if (declared === SIZE_UNKNOWN) break;
    at = body + declared + (declared & 1);
  }
  if (!fmt) throw new WavError('no fmt chunk (not a valid WAV file)');
  if (!data) throw new WavError('no data chunk');
  const encoding = encodingOf(fmt);
  if (fmt.channels === 0) throw new WavError('fmt chunk declares 0 channels');
  if (fmt.sampleRate === 0) throw new WavError('fmt chunk declares a sample rate of 0 Hz');
  const frameSize = BYTES[encoding] * fmt.channels;
  // A partial frame at the end (a cut-off recording) is dropped rather than rejected.
  const frames = Math.floor(data.length / frameSize);
  return {
    sampleRate: fmt.sampleRate,
    channels: fmt.channels,
    encoding,
    samples: firstChannel(data, encoding, fmt.channels, frames),
    data,
    durationMs: (frames * 1000) / fmt.sampleRate,
  };
}

/** Read and parse a WAV file; unreadable files are a WavError too ("cannot read <path>: ..."). */
export async function readWavFile(path: string): Promise<WavData> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new WavError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return readWav(buf);
  } catch (err) {
    if (err instanceof WavError) throw new WavError(`${path}: ${err.message}`);
    throw err;
  }
}

function writeHeader(
  view: DataView,
  out: Uint8Array,
  tag: number,
  channels: number,
  sampleRate: number,
  bits: number,
  fmtSize: number,
): number {
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i);
  };
  const blockAlign = (bits / 8) * channels;
  ascii(0, 'RIFF');
  view.setUint32(4, out.length - 8, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, fmtSize, true);
  view.setUint16(20, tag, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, bits, true);
  if (fmtSize === 18) view.setUint16(36, 0, true); // cbSize: no extra format bytes
  return 20 + fmtSize;
}

function checkRate(sampleRate: number, channels: number): void {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0)
    throw new RangeError(`WAV sample rate must be a positive integer, got ${sampleRate}`);
  if (!Number.isInteger(channels) || channels < 1 || channels > 65535)
    throw new RangeError(`WAV channels must be 1..65535, got ${channels}`);
}

/** A 16-bit PCM WAV (format tag 1). With channels > 1, `pcm` is interleaved. */
export function encodeWav(pcm: Int16Array, sampleRate: number, channels = 1): Uint8Array {
  checkRate(sampleRate, channels);
  if (pcm.length % channels !== 0) {
    throw new RangeError(`encodeWav: ${pcm.length} samples is not a whole number of ${channels}-channel frames`);
  }
  const dataBytes = pcm.length * 2;
  const out = new Uint8Array(44 + dataBytes);
  const view = new DataView(out.buffer);
  let at = writeHeader(view, out, WAVE_FORMAT_PCM, channels, sampleRate, 16, 16);
  out[at++] = 0x64; // 'data'
  out[at++] = 0x61;
  out[at++] = 0x74;
  out[at++] = 0x61;
  view.setUint32(at, dataBytes, true);
  at += 4;
  // Host order is little-endian on every platform Node 20 ships for, which is WAV's byte order.
  out.set(new Uint8Array(pcm.buffer, pcm.byteOffset, dataBytes), at);
  return out;
}

/** A G.711 WAV (format tag 7 mu-law or 6 A-law) with the fact chunk non-PCM formats require. */
export function encodeWavG711(data: Uint8Array, encoding: 'mulaw' | 'alaw', sampleRate = 8000): Uint8Array {
  checkRate(sampleRate, 1);
  const pad = data.length & 1;
  // RIFF(12) + fmt(8 + 18) + fact(8 + 4) + data(8 + n + pad)
  const out = new Uint8Array(12 + 26 + 12 + 8 + data.length + pad);
  const view = new DataView(out.buffer);
  let at = writeHeader(view, out, encoding === 'mulaw' ? WAVE_FORMAT_MULAW : WAVE_FORMAT_ALAW, 1, sampleRate, 8, 18);
  for (const [i, c] of [...'fact'].entries()) out[at + i] = c.charCodeAt(0);
  view.setUint32(at + 4, 4, true);
  view.setUint32(at + 8, data.length, true); // sample frames
  at += 12;
  for (const [i, c] of [...'data'].entries()) out[at + i] = c.charCodeAt(0);
  view.setUint32(at + 4, data.length, true);
  out.set(data, at + 8);
  return out;
}

/** Write a 16-bit PCM WAV file (interleaved when channels > 1). */
export async function writeWavFile(path: string, pcm: Int16Array, sampleRate: number, channels = 1): Promise<void> {
  await writeFile(path, encodeWav(pcm, sampleRate, channels));
}
