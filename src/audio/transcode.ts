/**
 * File transcoding (mp3 / ogg / m4a / anything ffmpeg reads -> WAV or raw PCM) with fluent-ffmpeg. For files
 * only (uploaded prompts, hold music, recordings): never per frame, where the in-process DSP of this folder runs.
 *
 * The ffmpeg binary is the one @ffmpeg-installer/ffmpeg installs with the project (no download at run time);
 * when that package has no binary for this platform, Debian's /usr/bin/ffmpeg, then `ffmpeg` on PATH.
 */
import { access, constants, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import ffmpeg from 'fluent-ffmpeg';
import type { Encoding } from './format.js';
import { alawEncode, mulawEncode } from './g711.js';
import { encodeWav, encodeWavG711, readWav, type WavData, WavError } from './wav.js';

export class TranscodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TranscodeError';
  }
}

export interface TranscodeOptions {
  /** Hz */
  sampleRate: number;
  channels: 1;
  encoding: Encoding;
}

let ffmpegPathPromise: Promise<string> | null = null;

async function isExecutable(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Path of the ffmpeg binary used for file transcoding (resolved once). */
export function ffmpegPath(): Promise<string> {
  ffmpegPathPromise ??= (async () => {
    try {
      // The installer throws a bare string when it has no binary for this platform.
      const installed = createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string };
      if (await isExecutable(installed.path)) return installed.path;
    } catch {
      // fall through to the system ffmpeg
    }
    if (await isExecutable('/usr/bin/ffmpeg')) return '/usr/bin/ffmpeg';
    return 'ffmpeg';
  })();
  return ffmpegPathPromise;
}

/** ffmpeg's own explanation is the last meaningful stderr line ("No such file or directory", "Invalid data..."). */
function explain(inputPath: string, err: Error, stderr: string | null): TranscodeError {
  const lines = (stderr ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('Conversion failed'));
  // ffmpeg prefixes the input path; the message names the file once.
  const reason = (lines.at(-1) ?? err.message).replace(`${inputPath}: `, '');
  // A file ffmpeg opens as something else (text is read as "tty" art) has no audio stream to decode.
  if (/does not contain any stream|matches no streams/.test(reason))
    return new TranscodeError(`cannot decode ${inputPath}: not an audio file (no audio stream in it)`);
  if (/Invalid data found/.test(reason))
    return new TranscodeError(
      `cannot decode ${inputPath}: not an audio file (invalid data for every format ffmpeg reads)`,
    );
  return new TranscodeError(`cannot decode ${inputPath}: ${reason}`);
}

/**
 * Decode any audio file ffmpeg understands to mono PCM16 at `sampleRate` (ffmpeg mixes channels down and resamples).
 * Rejects with TranscodeError naming the file and ffmpeg's reason.
 */
export async function decodeFileToPcm(inputPath: string, sampleRate: number): Promise<Int16Array> {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw new RangeError(`decodeFileToPcm: sample rate must be a positive integer, got ${sampleRate}`);
  }
  const bin = await ffmpegPath();
  return new Promise<Int16Array>((resolve, reject) => {
    const chunks: Buffer[] = [];
    // Done only when ffmpeg exited cleanly AND its output stream drained: either can come first.
    let exited = false;
    let drained = false;
    let failed = false;
    const finish = () => {
      if (!exited || !drained || failed) return;
      const total = chunks.reduce((n, c) => n + c.length, 0);
      // Copy into a fresh, aligned buffer: Buffer chunks may sit at odd offsets in Node's pool.
      const pcm = new Int16Array(total >> 1);
      const bytes = new Uint8Array(pcm.buffer);
      let o = 0;
      for (const c of chunks) {
        const n = Math.min(c.length, bytes.length - o);
        bytes.set(n === c.length ? c : c.subarray(0, n), o);
        o += n;
      }
      resolve(pcm);
    };
    const command = ffmpeg(inputPath)
      .setFfmpegPath(bin)
      .noVideo()
      .audioChannels(1)
      .audioFrequency(sampleRate)
      .audioCodec('pcm_s16le')
      .format('s16le')
      .on('error', (err: Error, _stdout: string | null, stderr: string | null) => {
        failed = true;
        reject(explain(inputPath, err, stderr));
      })
      .on('end', () => {
        exited = true;
        finish();
      });
    const out = command.pipe();
    out.on('data', (c: Buffer) => chunks.push(c));
    out.on('end', () => {
      drained = true;
      finish();
    });
  });
}

/**
 * Transcode any audio file to a mono WAV in the engine's formats. G.711 WAVs are coded with this folder's
 * bit-exact G.711 (src/audio/g711.ts) rather than ffmpeg's encoder, which rounds differently at segment edges.
 */
export async function transcodeToWav(inputPath: string, outputPath: string, options: TranscodeOptions): Promise<void> {
  const pcm = await decodeFileToPcm(inputPath, options.sampleRate);
  let wav: Uint8Array;
  switch (options.encoding) {
    case 'pcm16':
      wav = encodeWav(pcm, options.sampleRate, 1);
      break;
    case 'mulaw':
      wav = encodeWavG711(mulawEncode(pcm), 'mulaw', options.sampleRate);
      break;
    case 'alaw':
      wav = encodeWavG711(alawEncode(pcm), 'alaw', options.sampleRate);
      break;
  }
  await writeFile(outputPath, wav);
}

export interface DecodedAudio {
  /** Mono PCM16 (a WAV's first channel). */
  samples: Int16Array;
  /** Hz */
  sampleRate: number;
  durationMs: number;
  /** `wav/<encoding>` when read by our WAV parser, else `ffmpeg`. */
  via: string;
}

/**
 * Any audio file a user has (WAV, mp3, ogg, m4a, flac, ...), as mono PCM16. A RIFF/WAVE file is read by our own
 * parser (exact G.711, the file's own rate, first channel); anything else is decoded by an ffmpeg child process
 * (off the event loop) to mono at `sampleRate`. Bad input is a WavError or a TranscodeError naming the file.
 */
export async function readAudioFile(inputPath: string, sampleRate: number): Promise<DecodedAudio> {
  let head: Buffer;
  try {
    head = await readFile(inputPath);
  } catch (err) {
    throw new TranscodeError(
      `cannot read ${inputPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  if (head.length >= 4 && head.toString('latin1', 0, 4) === 'RIFF') {
    let wav: WavData;
    try {
      wav = readWav(head);
    } catch (err) {
      if (err instanceof WavError) throw new WavError(`${inputPath}: ${err.message}`);
      throw err;
    }
    return { samples: wav.samples, sampleRate: wav.sampleRate, durationMs: wav.durationMs, via: `wav/${wav.encoding}` };
  }
  const samples = await decodeFileToPcm(inputPath, sampleRate);
  if (samples.length === 0) throw new TranscodeError(`cannot decode ${inputPath}: no audio in it`);
  return { samples, sampleRate, durationMs: (samples.length * 1000) / sampleRate, via: 'ffmpeg' };
}
