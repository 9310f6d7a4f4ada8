import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenAiFake, startOpenAiFake } from '../../bench/fakes/openai.js';
import { AudioConverter } from '../../src/audio/convert.js';
import { MULAW_8K, pcmFormat } from '../../src/audio/format.js';
import { OpenAiAsr } from '../../src/providers/asr/openai.js';
import { OpenAiEmbed } from '../../src/providers/embed/openai.js';
import { resilientEmbed } from '../../src/providers/resilience.js';
import { resilientAsr } from '../../src/providers/resilient-asr.js';
import { OfflineTts } from '../../src/providers/tts/offline.js';
import type { AsrEvent, ProviderError } from '../../src/providers/types.js';

/** Two espeak-ng (in-process wasm) sentences as 8 kHz mu-law 20 ms frames with 1.2 s of silence after each. */
async function speechFrames(): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  const tts = new OfflineTts({ engine: 'espeak' });
  for (const text of ['Book a table for two.', 'What time do you open?']) {
    const conv = new AudioConverter(pcmFormat(22050), MULAW_8K);
    const parts: number[] = [];
    for await (const c of tts.synthesize({ text, format: MULAW_8K }, new AbortController().signal))
      parts.push(...conv.convert(c.data));
    for (let i = 0; i < 9600; i++) parts.push(0xff);
    for (let i = 0; i + 160 <= parts.length; i += 160) frames.push(Uint8Array.from(parts.slice(i, i + 160)));
  }
  return frames;
}

describe('openai per-utterance asr and embeddings against the loopback fake', () => {
  let fake: OpenAiFake;
  let frames: Uint8Array[];
  beforeAll(async () => {
    let n = 0;
    fake = await startOpenAiFake({
      transcript: () => ['book a table for two', 'what time do you open'][n++ % 2]!,
      retryAfterS: 0.05,
    });
    frames = await speechFrames();
  });
  afterAll(() => fake.close());

  it('segments with the VAD and posts one WAV per utterance; finals in order with word timings', async () => {
    const events: AsrEvent[] = [];
    const stream = await new OpenAiAsr({ apiKey: 'sk-test', baseURL: `${fake.url}/v1` }).open(
      { format: MULAW_8K, keyterms: ['table'] },
      (e) => events.push(e),
    );
    for (const f of frames) stream.write(f);
    await stream.close();
    const posts = fake.requests.filter((r) => r.path === '/v1/audio/transcriptions');
    expect(posts.length).toBe(2);
    expect(posts[0]!.headers.authorization).toBe('Bearer sk-test');
    expect(String(posts[0]!.headers['content-type'])).toContain('multipart/form-data');
    const finals = events.filter((e) => e.type === 'final');
    expect(finals.map((e) => (e.type === 'final' ? e.text : ''))).toEqual([
      'book a table for two',
      'what time do you open',
    ]);
    expect(events.filter((e) => e.type === 'speech_started').length).toBe(2);
    // gpt-4o-mini-transcribe streams: deltas arrive as growing partials before each final
    expect(events.filter((e) => e.type === 'partial').map((e) => (e.type === 'partial' ? e.text : ''))).toContain(
      'book a table',
    );
    const second = finals[1]!;
    if (second.type === 'final') expect(second.words[0]!.startMs).toBeGreaterThan(1000);
    expect(events.at(-1)).toEqual({ type: 'closed' });
  });

  it('whisper-1 (and compatible servers) answer one JSON object: finals only', async () => {
    const events: AsrEvent[] = [];
    const stream = await new OpenAiAsr({ apiKey: 'sk-test', baseURL: `${fake.url}/v1`, model: 'whisper-1' }).open(
      { format: MULAW_8K },
      (e) => events.push(e),
    );
    for (const f of frames) stream.write(f);
    await stream.close();
    expect(events.filter((e) => e.type === 'final').length).toBe(2);
    expect(events.some((e) => e.type === 'partial')).toBe(false);
  });

  it('a wrong key is a fatal auth error event (so a fallback chain can switch provider)', async () => {
    const events: AsrEvent[] = [];
    const stream = await new OpenAiAsr({ apiKey: 'sk-bad-key', baseURL: `${fake.url}/v1` }).open(
      { format: MULAW_8K },
      (e) => events.push(e),
    );
    for (const f of frames.slice(0, frames.length / 2)) stream.write(f);
    await stream.close();
    const err = events.find((e) => e.type === 'error');
    expect(err).toMatchObject({ type: 'error', fatal: true, error: { code: 'auth' } });
    if (err?.type === 'error') expect(err.error.message).not.toContain('sk-bad-key');
  });

  it('realtime transport: one socket, session.update (transcription, audio/pcmu, server_vad), server VAD turns', async () => {
    const events: AsrEvent[] = [];
    const before = fake.realtimeEvents.length;
    let turn = 0;
    fake.options.realtimeTranscript = () => ['book a table for two', 'what time do you open'][turn++ % 2]!;
    const stream = await new OpenAiAsr({
      apiKey: 'sk-test',
      baseURL: `${fake.url}/v1`,
      transport: 'realtime',
    }).open({ format: MULAW_8K, keyterms: ['table'], endpointingMs: 600 }, (e) => events.push(e));
    for (const f of frames) stream.write(f);
    const finals = () => events.filter((e) => e.type === 'final');
    await new Promise<void>((resolve, reject) => {
      const t0 = Date.now();
      const tick = () =>
        finals().length === 2
          ? resolve()
          : Date.now() - t0 > 5000
            ? reject(new Error('no finals'))
            : setTimeout(tick, 10);
      tick();
    });
    await stream.close();
    expect(finals().map((e) => (e.type === 'final' ? e.text : ''))).toEqual([
      'book a table for two',
      'what time do you open',
    ]);
    expect(events.filter((e) => e.type === 'speech_started').length).toBe(2);
    expect(events.some((e) => e.type === 'partial')).toBe(true);
    const second = finals()[1]!;
    if (second.type === 'final') expect(second.words[0]!.startMs).toBeGreaterThan(1000);
    expect(fake.realtimeEvents[before]).toEqual({
      type: 'session.update',
      session: {
        type: 'transcription',
        audio: {
          input: {
            format: { type: 'audio/pcmu' },
            transcription: { model: 'gpt-4o-mini-transcribe', prompt: 'table' },
            turn_detection: { type: 'server_vad', silence_duration_ms: 600, prefix_padding_ms: 300 },
          },
        },
      },
    });
    expect(fake.realtimeEvents.slice(before + 1).every((e) => e.type === 'input_audio_buffer.append')).toBe(true);
    const req = fake.requests.find((r) => r.path === '/v1/realtime')!;
    expect(req.query).toEqual({ intent: 'transcription' });
    expect(events.at(-1)).toEqual({ type: 'closed' });
  });

  it('realtime transport: a wrong key is an auth error at open', async () => {
    const err = await new OpenAiAsr({ apiKey: 'sk-bad-key', baseURL: `${fake.url}/v1`, transport: 'realtime' })
      .open({ format: MULAW_8K }, () => {})
      .catch((e: unknown) => e);
    expect((err as ProviderError).code).toBe('auth');
    expect((err as ProviderError).message).not.toContain('sk-bad-key');
  });

  it('realtime transport: an account out of credit (insufficient_quota) is a quota error, not retried: the chain falls back', async () => {
    const sockets = () => fake.requests.filter((r) => r.path === '/v1/realtime').length;
    const before = sockets();
    const incidents: { provider: string; code: string; action: string }[] = [];
    const realtime = new OpenAiAsr({ apiKey: 'sk-test', baseURL: `${fake.url}/v1`, transport: 'realtime' });
    const upload = new OpenAiAsr({ apiKey: 'sk-test', baseURL: `${fake.url}/v1`, transport: 'upload' });
    const events: AsrEvent[] = [];
    fake.faults.push('quota');
    const stream = await resilientAsr([realtime, upload], {
      baseDelayMs: 5,
      onIncident: (i) => incidents.push({ provider: i.provider, code: i.code, action: i.action }),
    }).open({ format: MULAW_8K }, (e) => events.push(e));
    const t0 = Date.now();
    while (!incidents.length && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    expect(incidents).toEqual([{ provider: 'openai', code: 'quota', action: 'fallback' }]);
    expect(sockets() - before).toBe(1); // never reopened: a quota error is not retryable
    for (const f of frames) stream.write(f);
    while (!events.some((e) => e.type === 'final') && Date.now() - t0 < 10_000)
      await new Promise((r) => setTimeout(r, 10));
    expect(events.some((e) => e.type === 'final')).toBe(true); // the upload transport took over
    expect(fake.requests.some((r) => r.path === '/v1/audio/transcriptions')).toBe(true);
    await stream.close();

    // Alone (no fallback): the caller's stream gets the fatal, non-retryable quota error.
    fake.faults.push('quota');
    const alone: AsrEvent[] = [];
    const s2 = await realtime.open({ format: MULAW_8K }, (e) => alone.push(e));
    while (!alone.some((e) => e.type === 'error') && Date.now() - t0 < 15_000)
      await new Promise((r) => setTimeout(r, 10));
    const err = alone.find((e) => e.type === 'error');
    expect(err).toMatchObject({ type: 'error', fatal: true, error: { code: 'quota', retryable: false } });
    await s2.close();
  });

  it('embeddings: base64 decoded to Float32Array, 429 retried', async () => {
    const embed = resilientEmbed(new OpenAiEmbed({ apiKey: 'sk-test', baseURL: `${fake.url}/v1`, dimensions: 32 }), {
      baseDelayMs: 5,
    });
    fake.faults.push('rate_limited');
    const [a, b, c] = await embed.embed(['opening hours monday', 'opening hours', 'parking garage']);
    expect(a).toBeInstanceOf(Float32Array);
    expect(a!.length).toBe(32);
    const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i]!, 0);
    expect(dot(a!, b!)).toBeGreaterThan(dot(a!, c!));
    const bad = new OpenAiEmbed({ apiKey: 'nope', baseURL: `${fake.url}/v1` });
    const err = await bad.embed(['x']).catch((e: unknown) => e);
    expect((err as ProviderError).code).toBe('auth');
  });
});
