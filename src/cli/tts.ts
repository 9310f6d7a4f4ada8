/**
 * `voice-engine tts <text> -o out.wav [--provider P] [--voice V] [--model M] [--rate HZ]` (DESIGN.md section 3):
 * synthesizes through the same registry, resilience and fallback chain as a call, and writes a PCM16 WAV at the
 * provider's rate (or --rate). Works offline with no keys (flite, else espeak-ng wasm). The JSON line names the
 * provider that actually produced the audio: when the requested one failed (e.g. `--provider elevenlabs` with no
 * key) it says which one fell back, and why, under `fallback_from`.
 */
import { AudioConverter, pcmBytesToInt16 } from '../audio/convert.js';
import { type AudioFormat, pcmFormat } from '../audio/format.js';
import { writeWavFile } from '../audio/wav.js';
import { loadConfig } from '../config.js';
import { createLogger, silentLogger } from '../log.js';
import { createProviderRegistry } from '../providers/registry.js';
import type { Timing } from '../providers/types.js';
import { CliError, EXIT, flagNumber, flagString, parseArgs } from './args.js';

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const text = args.positional.join(' ').trim();
  const out = flagString(args, 'o', 'out', 'output');
  if (!text) throw new CliError('tts needs the text to speak: tts "hello" -o out.wav', EXIT.usage);
  if (!out) throw new CliError('tts needs an output file: -o out.wav', EXIT.usage);
  const rate = flagNumber(args, 'rate', 0);
  const provider = flagString(args, 'provider');
  const config = loadConfig();
  const logger = process.env.LOG_LEVEL ? createLogger() : silentLogger;
  const registry = createProviderRegistry(config, logger);
  const problem = await registry.catalog.validate('tts', {
    provider,
    voice: flagString(args, 'voice'),
    model: flagString(args, 'model'),
  });
  if (problem) throw new CliError(problem, EXIT.usage);
  const incidents: string[] = [];
  /** Providers of the chain that gave up before producing audio, in order. */
  const fellBack: { provider: string; code: string }[] = [];
  const chain = registry.chain?.('tts', { provider }) ?? [];
  const tts = registry.tts(
    { provider, voice: flagString(args, 'voice'), model: flagString(args, 'model') },
    {
      onIncident: (i) => {
        incidents.push(`${i.provider} ${i.code}: ${i.action}`);
        if (i.action === 'fallback') fellBack.push({ provider: i.provider, code: i.code });
      },
    },
  );
  const want: AudioFormat = pcmFormat(rate || 16000);
  const timing: Timing = {};
  const parts: Int16Array[] = [];
  let outRate = 0;
  let converter: AudioConverter | undefined;
  for await (const chunk of tts.synthesize({ text, format: want }, new AbortController().signal, timing)) {
    // the first chunk fixes the output rate (the provider's real rate unless --rate); later chunks follow it
    outRate ||= rate || chunk.format.sampleRate;
    const target = pcmFormat(outRate);
    if (
      !converter ||
      converter.from.encoding !== chunk.format.encoding ||
      converter.from.sampleRate !== chunk.format.sampleRate
    ) {
      converter = new AudioConverter(chunk.format, target);
    }
    parts.push(pcmBytesToInt16(converter.convert(chunk.data)).slice());
  }
  if (converter) parts.push(pcmBytesToInt16(converter.flush()).slice());
  const total = parts.reduce((n, p) => n + p.length, 0);
  if (!total) throw new CliError('the provider returned no audio', EXIT.provider);
  const pcm = new Int16Array(total);
  let off = 0;
  for (const p of parts) {
    pcm.set(p, off);
    off += p.length;
  }
  await writeWavFile(out, pcm, outRate).catch((err: Error) => {
    throw new CliError(`cannot write ${out}: ${err.message}`, EXIT.io);
  });
  for (const i of incidents) process.stderr.write(`incident: ${i}\n`);
  const firstByte =
    timing.firstByteAt && timing.requestSentAt ? Math.round(timing.firstByteAt - timing.requestSentAt) : undefined;
  // The chain tries its providers in order; each fallback incident names one that gave up before any audio.
  const produced = chain[fellBack.length] ?? tts.id;
  if (fellBack.length)
    process.stderr.write(
      `tts: ${fellBack.map((f) => `${f.provider} failed (${f.code})`).join(', ')}; the audio is from ${produced}\n`,
    );
  process.stdout.write(
    `${JSON.stringify({
      file: out,
      provider: produced,
      ...(fellBack.length ? { requested: chain[0], fallback_from: fellBack } : {}),
      sample_rate: outRate,
      duration_ms: Math.round((total * 1000) / outRate),
      first_byte_ms: firstByte,
    })}\n`,
  );
  return 0;
}
