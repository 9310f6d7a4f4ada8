/**
 * `voice-engine transcribe <file> [--provider P] [--model M] [--language L] [--json]` (DESIGN.md section 3):
 * streams the file through the registry's ASR chain in 20 ms frames (as fast as the provider takes them) and
 * prints the transcript; --json prints one JSON object with the utterances and their word timings. Works offline
 * with no keys (pocketsphinx) when `pocketsphinx` and `pocketsphinx-en-us` are installed.
 */
import { int16ToBytes } from '../audio/convert.js';
import { pcmFormat } from '../audio/format.js';
import { resample } from '../audio/resample.js';
import { type DecodedAudio, readAudioFile, TranscodeError } from '../audio/transcode.js';
import { WavError } from '../audio/wav.js';
import { loadConfig } from '../config.js';
import { createLogger, silentLogger } from '../log.js';
import { createProviderRegistry } from '../providers/registry.js';
import { type AsrEvent, ProviderError, type Word } from '../providers/types.js';
import { CliError, EXIT, flagString, parseArgs } from './args.js';

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json']);
  const file = args.positional[0];
  if (!file) throw new CliError('transcribe needs an audio file: transcribe call.wav', EXIT.usage);
  const provider = flagString(args, 'provider');
  const model = flagString(args, 'model');
  let wav: DecodedAudio;
  try {
    // WAV at its own rate; mp3 / ogg / m4a / flac decoded by ffmpeg at 16 kHz (the recognizers' rate).
    wav = await readAudioFile(file, 16000);
  } catch (err) {
    if (err instanceof WavError || err instanceof TranscodeError) throw new CliError(err.message, EXIT.input);
    throw err;
  }
  if (wav.samples.length === 0) throw new CliError(`${file}: no audio samples`, EXIT.input);
  // Providers take 8 or 16 kHz; other rates (22.05, 44.1, 48 kHz) are brought to 16 kHz once, here.
  let { samples, sampleRate } = wav;
  if (sampleRate !== 8000 && sampleRate !== 16000) {
    samples = resample(samples, sampleRate, 16000);
    sampleRate = 16000;
  }
  const registry = createProviderRegistry(loadConfig(), process.env.LOG_LEVEL ? createLogger() : silentLogger);
  const problem = await registry.catalog.validate('asr', { provider, model });
  if (problem) throw new CliError(problem, EXIT.usage);
  const asr = registry.asr(
    { provider, model },
    { onIncident: (i) => process.stderr.write(`incident: ${i.provider} ${i.code}: ${i.action}\n`) },
  );
  const utterances: { text: string; words: Word[] }[] = [];
  let fatal: ProviderError | undefined;
  const onEvent = (e: AsrEvent) => {
    if (e.type === 'final' && e.text.trim()) utterances.push({ text: e.text.trim(), words: e.words });
    else if (e.type === 'error' && e.fatal) fatal = e.error;
  };
  let stream: Awaited<ReturnType<typeof asr.open>>;
  try {
    stream = await asr.open(
      { format: pcmFormat(sampleRate), model, language: flagString(args, 'language'), interimResults: false },
      onEvent,
    );
  } catch (err) {
    if (err instanceof ProviderError) throw new CliError(err.message, EXIT.provider);
    throw err;
  }
  const frame = (sampleRate / 1000) * 20;
  const bytes = int16ToBytes(samples);
  for (let i = 0; i < samples.length; i += frame)
    stream.write(bytes.subarray(i * 2, Math.min(samples.length, i + frame) * 2));
  stream.finalize();
  await stream.close();
  if (fatal && utterances.length === 0) throw new CliError(fatal.message, EXIT.provider);
  if (args.flags.json === true) {
    process.stdout.write(
      `${JSON.stringify({ file, provider: asr.id, duration_ms: wav.durationMs, text: utterances.map((u) => u.text).join(' '), utterances })}\n`,
    );
  } else {
    process.stdout.write(`${utterances.map((u) => u.text).join('\n')}\n`);
  }
  return 0;
}
