/**
 * `voice-engine dtmf <file.wav>`: one JSON line per detected digit, {"digit":"5","start_ms":120,"end_ms":180}
 * (DESIGN.md section 3). Accepts PCM16 / mu-law / A-law WAV at any common rate, mono or stereo (first channel).
 */
import { readFile } from 'node:fs/promises';
import { type DtmfEvent, detectDtmfInPcm } from '../audio/dtmf.js';
import { alawDecode, mulawDecode } from '../audio/g711.js';
import { CliError, parseArgs } from './args.js';

const FORMAT_PCM = 1;
const FORMAT_ALAW = 6;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;

interface Wav {
  sampleRate: number;
  /** first channel only */
  samples: Int16Array;
}

/**
 * RIFF/WAVE reader for this command: walks the chunks, takes the first channel, decodes G.711. Every malformed input
 * is a CliError with one clear line.
 */
function parseWav(buf: Buffer, path: string): Wav {
  if (buf.length === 0) throw new CliError(`${path}: empty file`);
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') {
    throw new CliError(`${path}: not a WAV file (no RIFF/WAVE header)`);
  }
  let fmt: { code: number; channels: number; rate: number; bits: number; align: number } | null = null;
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = buf.toString('latin1', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.length) throw new CliError(`${path}: truncated WAV (short fmt chunk)`);
      let code = buf.readUInt16LE(body);
      if (code === FORMAT_EXTENSIBLE && size >= 40 && body + 26 <= buf.length) code = buf.readUInt16LE(body + 24);
      fmt = {
        code,
        channels: buf.readUInt16LE(body + 2),
        rate: buf.readUInt32LE(body + 4),
        align: buf.readUInt16LE(body + 12),
        bits: buf.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (!fmt) throw new CliError(`${path}: WAV data chunk before its fmt chunk`);
      if (body + size > buf.length)
        throw new CliError(`${path}: truncated WAV (data chunk says ${size} bytes, file has ${buf.length - body})`);
      return decode(buf.subarray(body, body + size), fmt, path);
    }
    off = body + size + (size & 1);
  }
  throw new CliError(`${path}: truncated WAV (${fmt ? 'no data chunk' : 'no fmt chunk'})`);
}

function decode(
  data: Buffer,
  fmt: { code: number; channels: number; rate: number; bits: number; align: number },
  path: string,
): Wav {
  const { code, channels, rate, bits } = fmt;
  if (channels < 1 || rate < 1000 || rate > 192000)
    throw new CliError(`${path}: bad WAV header (${channels} channels, ${rate} Hz)`);
  const g711 = code === FORMAT_MULAW || code === FORMAT_ALAW;
  if (!(code === FORMAT_PCM && bits === 16) && !(g711 && bits === 8)) {
    throw new CliError(`${path}: unsupported WAV encoding (format ${code}, ${bits} bits); use PCM16, mu-law or A-law`);
  }
  const width = g711 ? 1 : 2;
  const frame = width * channels;
  const n = Math.floor(data.length / frame);
  if (n === 0) throw new CliError(`${path}: WAV has no audio samples`);
  const samples = new Int16Array(n);
  if (g711) {
    const first = new Uint8Array(n);
    for (let i = 0; i < n; i++) first[i] = data[i * frame]!;
    (code === FORMAT_MULAW ? mulawDecode : alawDecode)(first, samples);
  } else {
    for (let i = 0; i < n; i++) samples[i] = data.readInt16LE(i * frame);
  }
  return { sampleRate: rate, samples };
}

/** Digits in a WAV file, as the command reports them (also used by tools/dtmf-compare). */
export async function detectDtmfInFile(path: string): Promise<DtmfEvent[]> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      `${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`,
    );
  }
  const wav = parseWav(buf, path);
  return detectDtmfInPcm(wav.samples, wav.sampleRate);
}

export async function run(argv: string[]): Promise<number> {
  const { positional } = parseArgs(argv);
  if (positional.length !== 1) throw new CliError('usage: voice-engine dtmf <file.wav>', 2);
  const events = await detectDtmfInFile(positional[0]!);
  let out = '';
  for (const e of events) out += `${JSON.stringify({ digit: e.digit, start_ms: e.startMs, end_ms: e.endMs })}\n`;
  process.stdout.write(out);
  return 0;
}
