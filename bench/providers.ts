/**
 * Provider adapter figures, two measurements:
 *
 * 1. measureAdapterOverhead(): what each adapter (plus the resilience wrapper) adds per chunk over a bare protocol
 *    client, against the same loopback fake with zero scripted latency. The bare client does the minimum any
 *    client must (HTTP read + SSE split + JSON.parse; WebSocket send + JSON.parse), so the difference is the
 *    adapter's own cost: event mapping, timing marks, error classification, alignment, timers. Medians of
 *    `rounds` runs, divided by the chunk count. The latency bench (bench/latency.ts) includes it in its JSON.
 *
 * 2. measureOfflineAsrAccuracy(): word error rate of the embedded recognizer (pocketsphinx) on sentences spoken
 *    by the embedded synthesizers, at 16 kHz and as 8 kHz mu-law phone audio.
 *
 * Run directly: `npx tsx bench/providers.ts [--wer]` prints one JSON object.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { haveSounds, sound, transcript } from '../fixtures/lib/sounds.js';
import { AudioConverter } from '../src/audio/convert.js';
import { type AudioChunk, type AudioFormat, MULAW_8K, PCM_16K } from '../src/audio/format.js';
import { mulawEncode } from '../src/audio/g711.js';
import { DeepgramAsr } from '../src/providers/asr/deepgram.js';
import { OfflineAsr, offlineAsrAvailable } from '../src/providers/asr/offline.js';
import { OpenAiLlm } from '../src/providers/llm/openai.js';
import { resilientLlm, resilientTts } from '../src/providers/resilience.js';
import { resilientAsr } from '../src/providers/resilient-asr.js';
import { ElevenLabsTts } from '../src/providers/tts/elevenlabs.js';
import { OfflineTts } from '../src/providers/tts/offline.js';
import { startDeepgramFake } from './fakes/deepgram.js';
import { startElevenLabsFake } from './fakes/elevenlabs.js';
import { startOpenAiFake } from './fakes/openai.js';

export interface AdapterOverhead {
  asr_ms_per_chunk: number;
  llm_ms_per_chunk: number;
  tts_ms_per_chunk: number;
  asr_chunks: number;
  llm_chunks: number;
  tts_chunks: number;
  /** Medians (ms per run) of the bare client and the adapter, for the record. */
  raw_ms: { asr: number; llm: number; tts: number };
  adapter_ms: { asr: number; llm: number; tts: number };
  rounds: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const round3 = (x: number) => Math.round(x * 1000) / 1000;

async function timeIt(rounds: number, fn: () => Promise<void>): Promise<number> {
  await fn(); // warm-up: JIT, sockets, SDK lazy loads
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

async function llmFigures(rounds: number) {
  const words = 300;
  const fake = await startOpenAiFake({ chat: { text: Array.from({ length: words }, (_, i) => `word${i}`).join(' ') } });
  const body = JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  try {
    const raw = await timeIt(rounds, async () => {
      const res = await fetch(`${fake.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json' },
        body,
      });
      const text = await res.text();
      for (const line of text.split('\n')) if (line.startsWith('data: {')) JSON.parse(line.slice(6));
    });
    const llm = resilientLlm([new OpenAiLlm({ apiKey: 'sk-test', baseURL: `${fake.url}/v1` })]);
    const adapter = await timeIt(rounds, async () => {
      for await (const _ of llm.stream({ messages: [{ role: 'user', content: 'hi' }] }, new AbortController().signal))
        void _;
    });
    return { raw, adapter, chunks: words + 3 };
  } finally {
    await fake.close();
  }
}

async function ttsFigures(rounds: number) {
  const fake = await startElevenLabsFake();
  const text = 'x'.repeat(500); // 30 s of synthetic audio in 300 chunks of 100 ms
  const chunks = 300;
  try {
    const url = `${fake.url}/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream?output_format=ulaw_8000`;
    const raw = await timeIt(rounds, async () => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'xi-api-key': 'xi-test', 'content-type': 'application/json' },
        body: JSON.stringify({ text, model_id: 'eleven_flash_v2_5' }),
      });
      for await (const _ of res.body as unknown as AsyncIterable<Uint8Array>) void _;
    });
    const tts = resilientTts([new ElevenLabsTts({ apiKey: 'xi-test', baseUrl: fake.url })]);
    const adapter = await timeIt(rounds, async () => {
      for await (const _ of tts.synthesize({ text, format: MULAW_8K }, new AbortController().signal)) void _;
    });
    return { raw, adapter, chunks };
  } finally {
    await fake.close();
  }
}

async function asrFigures(rounds: number) {
  const frames = 500; // 10 s of 20 ms mu-law frames; the fake answers one utterance per 200 ms
  const utterances = frames / 10;
  const fake = await startDeepgramFake({ utteranceMs: 200 });
  const frame = new Uint8Array(160).fill(0xff);
  const query = 'model=nova-3&encoding=mulaw&sample_rate=8000&interim_results=false';
  try {
    const raw = await timeIt(rounds, async () => {
      const ws = new WebSocket(`${fake.url.replace('http', 'ws')}/v1/listen?${query}`, {
        headers: { authorization: 'Token dg-test' },
      });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      let finals = 0;
      const done = new Promise<void>((resolve) =>
        ws.on('message', (d) => {
          if ((JSON.parse(String(d)) as { is_final?: boolean }).is_final && ++finals === utterances) resolve();
        }),
      );
      for (let i = 0; i < frames; i++) ws.send(frame);
      await done;
      ws.close();
    });
    const asr = resilientAsr([new DeepgramAsr({ apiKey: 'dg-test', baseUrl: fake.url })]);
    const adapter = await timeIt(rounds, async () => {
      let finals = 0;
      let resolve!: () => void;
      const done = new Promise<void>((r) => {
        resolve = r;
      });
      const stream = await asr.open({ format: MULAW_8K, interimResults: false }, (e) => {
        if (e.type === 'final' && ++finals === utterances) resolve();
      });
      for (let i = 0; i < frames; i++) stream.write(frame);
      await done;
      await stream.close();
    });
    return { raw, adapter, chunks: frames };
  } finally {
    await fake.close();
  }
}

export async function measureAdapterOverhead(rounds = 15): Promise<AdapterOverhead> {
  const llm = await llmFigures(rounds);
  const tts = await ttsFigures(rounds);
  const asr = await asrFigures(rounds);
  const per = (f: { raw: number; adapter: number; chunks: number }) =>
    round3(Math.max(0, f.adapter - f.raw) / f.chunks);
  return {
    asr_ms_per_chunk: per(asr),
    llm_ms_per_chunk: per(llm),
    tts_ms_per_chunk: per(tts),
    asr_chunks: asr.chunks,
    llm_chunks: llm.chunks,
    tts_chunks: tts.chunks,
    raw_ms: { asr: round3(asr.raw), llm: round3(llm.raw), tts: round3(tts.raw) },
    adapter_ms: { asr: round3(asr.adapter), llm: round3(llm.adapter), tts: round3(tts.adapter) },
    rounds,
  };
}

/* ---------------------------------------------------------------- offline ASR accuracy */

export const WER_SENTENCES = [
  'book a table for two people tonight',
  'what time do you open on sunday',
  'i would like to speak to an agent',
  'please cancel my appointment for tomorrow',
  'my account number is four five six seven',
  'can you send me the invoice by email',
  'the delivery has not arrived yet',
  'yes that is correct thank you',
  'i want to change my shipping address',
  'how much does the premium plan cost',
];

/**
 * Real human telephone speech: prompts of Debian's asterisk-core-sounds-en (one speaker, recorded at 8 kHz), sent as
 * the mu-law a phone line carries, against their published transcripts (case and punctuation ignored).
 */
export const WER_REAL_PROMPTS = [
  'vm-savefolder',
  'conf-onlyperson',
  'privacy-unident',
  'ss-noservice',
  'vm-whichbox',
  'conf-getpin',
  'vm-passchanged',
  'queue-callswaiting',
  'vm-tooshort',
  'pbx-invalid',
];

const normWords = (s: string): string[] =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9' ]/g, ' ')
    .split(/\s+/)
    .filter(Boolean);

/** Word error rate: word-level Levenshtein distance / reference length (case and punctuation ignored). */
export function wordErrorRate(ref: string, hyp: string): { errors: number; words: number } {
  const r = normWords(ref);
  const h = normWords(hyp);
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const cur = [i];
    for (let j = 1; j <= h.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (r[i - 1] === h[j - 1] ? 0 : 1));
    prev = cur;
  }
  return { errors: prev[h.length]!, words: r.length };
}

async function transcribeChunks(chunks: AudioChunk[], to: AudioFormat): Promise<string> {
  const texts: string[] = [];
  const stream = await new OfflineAsr().open({ format: to }, (e) => {
    if (e.type === 'final') texts.push(e.text);
  });
  const conv = new AudioConverter(chunks[0]!.format, to);
  for (const c of chunks) stream.write(conv.convert(c.data).slice());
  stream.finalize();
  await stream.close();
  return texts.join(' ');
}

export async function measureOfflineAsrAccuracy(): Promise<
  Record<string, { wer: number; words: number }> | { skipped: string }
> {
  if (!(await offlineAsrAvailable())) return { skipped: 'pocketsphinx not installed' };
  const cases: [string, OfflineTts, string | undefined, AudioFormat][] = [
    ['flite_16k', new OfflineTts({ engine: 'flite' }), 'kal16', PCM_16K],
    ['flite_8k_mulaw', new OfflineTts({ engine: 'flite' }), 'kal16', MULAW_8K],
    ['espeak_16k', new OfflineTts({ engine: 'espeak' }), 'espeak:en-us', PCM_16K],
    ['espeak_8k_mulaw', new OfflineTts({ engine: 'espeak' }), 'espeak:en-us', MULAW_8K],
  ];
  const out: Record<string, { wer: number; words: number }> = {};
  for (const [name, tts, voice, format] of cases) {
    let errors = 0;
    let words = 0;
    for (const sentence of WER_SENTENCES) {
      const chunks: AudioChunk[] = [];
      for await (const c of tts.synthesize({ text: sentence, voice, format }, new AbortController().signal))
        chunks.push(c);
      const w = wordErrorRate(sentence, await transcribeChunks(chunks, format));
      errors += w.errors;
      words += w.words;
    }
    out[name] = { wer: Math.round((errors / words) * 1000) / 1000, words };
  }
  if (haveSounds()) {
    let errors = 0;
    let words = 0;
    for (const name of WER_REAL_PROMPTS) {
      const x = sound(name);
      const pcm = new Int16Array(x.length);
      for (let i = 0; i < x.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(x[i]! * 32767)));
      const mulaw = mulawEncode(pcm);
      const chunks: AudioChunk[] = [];
      for (let at = 0; at < mulaw.length; at += 160)
        chunks.push({ format: MULAW_8K, data: mulaw.subarray(at, at + 160) });
      const w = wordErrorRate(transcript(name), await transcribeChunks(chunks, MULAW_8K));
      errors += w.errors;
      words += w.words;
    }
    out.real_speaker_8k_mulaw = { wer: Math.round((errors / words) * 1000) / 1000, words };
  }
  return out;
}

function isEntry(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}
if (isEntry()) {
  const result: Record<string, unknown> = { suite: 'providers', adapter_overhead: await measureAdapterOverhead() };
  if (process.argv.includes('--wer')) result.offline_asr_wer = await measureOfflineAsrAccuracy();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
