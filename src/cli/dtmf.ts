/**
 * `voice-engine dtmf <file>`: one JSON line per detected digit, {"digit":"5","start_ms":120,"end_ms":180}
 * (DESIGN.md section 3). Accepts PCM16 / mu-law / A-law WAV (and the other encodings src/audio/wav.ts reads) at any
 * common rate, mono or stereo (first channel), and mp3 / ogg / m4a / flac through ffmpeg (src/audio/transcode.ts).
 * Bad input is one clear line on stderr and exit 3 (EXIT.input).
 */
import { type DtmfEvent, detectDtmfInPcm } from '../audio/dtmf.js';
import { type DecodedAudio, readAudioFile, TranscodeError } from '../audio/transcode.js';
import { WavError } from '../audio/wav.js';
import { CliError, EXIT, parseArgs } from './args.js';

/** Rates the resampler takes to 8 kHz (Hz); anything else in a WAV header is almost surely corrupt. */
const MIN_RATE = 4000;
const MAX_RATE = 192000;

/** Digits in an audio file, as the command reports them (also used by tools/dtmf-compare and the test set). */
export async function detectDtmfInFile(path: string): Promise<DtmfEvent[]> {
  let wav: DecodedAudio;
  try {
    // Non-WAV files are decoded at 8 kHz, the detector's own rate.
    wav = await readAudioFile(path, 8000);
  } catch (err) {
    if (err instanceof WavError || err instanceof TranscodeError) throw new CliError(err.message, EXIT.input);
    throw err;
  }
  if (wav.samples.length === 0) throw new CliError(`${path}: WAV has no audio samples`);
  if (wav.sampleRate < MIN_RATE || wav.sampleRate > MAX_RATE) {
    throw new CliError(`${path}: unsupported sample rate ${wav.sampleRate} Hz (expected ${MIN_RATE}..${MAX_RATE})`);
  }
  try {
    return detectDtmfInPcm(wav.samples, wav.sampleRate);
  } catch (err) {
    // the resampler refuses rate pairs it cannot realise (e.g. 44101 Hz -> 8000 Hz)
    if (err instanceof RangeError) throw new CliError(`${path}: unsupported sample rate ${wav.sampleRate} Hz`);
    throw err;
  }
}

export async function run(argv: string[]): Promise<number> {
  const { positional } = parseArgs(argv);
  if (positional.length !== 1) throw new CliError('usage: voice-engine dtmf <file.wav|mp3|ogg|m4a|flac>', EXIT.usage);
  const events = await detectDtmfInFile(positional[0]!);
  let out = '';
  for (const e of events) out += `${JSON.stringify({ digit: e.digit, start_ms: e.startMs, end_ms: e.endMs })}\n`;
  process.stdout.write(out);
  return 0;
}
