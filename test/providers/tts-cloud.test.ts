import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeepgramFake, startDeepgramFake } from '../../bench/fakes/deepgram.js';
import { type ElevenLabsFake, startElevenLabsFake } from '../../bench/fakes/elevenlabs.js';
import { type OpenAiFake, startOpenAiFake } from '../../bench/fakes/openai.js';
import { type AudioChunk, MULAW_8K, PCM_16K } from '../../src/audio/format.js';
import { type Incident, resilientTts } from '../../src/providers/resilience.js';
import { DeepgramTts } from '../../src/providers/tts/deepgram.js';
import { ElevenLabsTts } from '../../src/providers/tts/elevenlabs.js';
import { ContextStream, type ElevenLabsSocket } from '../../src/providers/tts/elevenlabs-ws.js';
import { OpenAiTts } from '../../src/providers/tts/openai.js';
import { ProviderError, type Timing, type TtsProvider } from '../../src/providers/types.js';

const signal = () => new AbortController().signal;
async function bytes(it: AsyncIterable<AudioChunk>): Promise<{ total: number; chunks: AudioChunk[] }> {
  const chunks: AudioChunk[] = [];
  for await (const c of it) chunks.push(c);
  return { total: chunks.reduce((n, c) => n + c.data.length, 0), chunks };
}
const fast = { baseDelayMs: 5, maxDelayMs: 10, firstByteTimeoutMs: 400 };
// the fakes' synthetic speech lasts 60 ms per character (bench/fakes/common.ts synthAudio)
const ms = (text: string) => Math.max(200, text.length * 60);

describe('elevenlabs tts against the loopback fake', () => {
  let fake: ElevenLabsFake;
  let tts: ElevenLabsTts;
  beforeAll(async () => {
    fake = await startElevenLabsFake({ slowFirstByteMs: 1500, retryAfterS: 0.05 });
    tts = new ElevenLabsTts({ apiKey: 'xi-test', baseUrl: fake.url });
  });
  afterAll(() => fake.close());

  it('streams ulaw_8000 over HTTP (with-timestamps) with the xi-api-key header; word timings from the alignment', async () => {
    const timing: Timing = {};
    const { total, chunks } = await bytes(tts.synthesize({ text: 'Hello there.', format: MULAW_8K }, signal(), timing));
    expect(total).toBe((8000 * ms('Hello there.')) / 1000);
    expect(chunks[0]!.format).toEqual(MULAW_8K);
    // 60 ms per character: "Hello" 0-300, "there." 360-720, relative to the utterance's audio
    expect(chunks.flatMap((c) => c.words ?? [])).toEqual([
      { word: 'Hello', startMs: 0, endMs: 300 },
      { word: 'there.', startMs: 360, endMs: 720 },
    ]);
    const req = fake.requests.at(-1)!;
    expect(req.path).toBe('/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream/with-timestamps');
    expect(req.query.output_format).toBe('ulaw_8000');
    expect(req.headers['xi-api-key']).toBe('xi-test');
    expect(timing.firstByteAt).toBeGreaterThanOrEqual(timing.requestSentAt!);
  });

  it('asks pcm_16000 for PCM 16 kHz and keeps samples whole', async () => {
    const { total, chunks } = await bytes(tts.synthesize({ text: 'Hi', format: PCM_16K }, signal()));
    expect(fake.requests.at(-1)!.query.output_format).toBe('pcm_16000');
    expect(total).toBe(16000 * 2 * 0.2);
    for (const c of chunks) expect(c.data.length % 2).toBe(0);
  });

  it('stream-input WebSocket (textStream single): settings first, whole words with their space, flush at clause ends, EOS', async () => {
    const single = new ElevenLabsTts({ apiKey: 'xi-test', baseUrl: fake.url, textStream: 'single' });
    const from = fake.wsMessages.length;
    const stream = single.openTextStream({ format: MULAW_8K }, signal());
    for (const piece of ['Hello ', 'there. ', 'How can ', 'I help?']) stream.pushText(piece);
    stream.end();
    const { total, chunks } = await bytes(stream.audio);
    // generations: "Hello there. " (flush), then "How can I help? " (the schedule's 50 chars not reached: the flush)
    expect(total).toBe((8000 * (ms('Hello there. ') + ms('How can I help? '))) / 1000);
    expect(fake.streamedText.at(-1)).toBe('Hello there. How can I help? ');
    expect(fake.wsMessages.slice(from)).toEqual([
      {
        text: ' ',
        voice_settings: { stability: 0.5, similarity_boost: 0.8 },
        generation_config: { chunk_length_schedule: [50, 120, 160, 250] },
      },
      { text: 'Hello ' },
      { text: 'there. ', flush: true },
      { text: 'How can ' },
      { text: 'I ' },
      { text: 'help? ', flush: true },
      { text: '' },
    ]);
    // word times relative to the utterance: the second generation starts after the first one's 780 ms
    expect(chunks.flatMap((c) => c.words ?? []).map((w) => `${w.word}@${w.startMs}`)).toEqual([
      'Hello@0',
      'there.@360',
      'How@780',
      'can@1020',
      'I@1260',
      'help?@1380',
    ]);
    expect(fake.requests.at(-1)!.path).toBe('/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream-input');
    expect(fake.requests.at(-1)!.query).toMatchObject({
      output_format: 'ulaw_8000',
      model_id: 'eleven_flash_v2_5',
      inactivity_timeout: '60',
    });
    expect(stream.timing.firstByteAt).toBeGreaterThanOrEqual(stream.timing.requestSentAt!);
  });

  it('stream-input: revoked key closes 1008 -> auth error; malformed frame -> malformed error', async () => {
    fake.faults.push('unauthorized');
    const s1 = tts.openTextStream({ format: MULAW_8K }, signal());
    s1.pushText('Hello.');
    s1.end();
    const e1 = await bytes(s1.audio).catch((e: unknown) => e);
    expect((e1 as ProviderError).code).toBe('auth');
    fake.faults.push('malformed');
    const s2 = tts.openTextStream({ format: MULAW_8K }, signal());
    s2.pushText('Hello.');
    s2.end();
    const e2 = await bytes(s2.audio).catch((e: unknown) => e);
    expect((e2 as ProviderError).code).toBe('malformed');
  });

  it('stream-input failing before audio falls back to the next provider with the whole text', async () => {
    fake.faults.push('server_error');
    const incidents: Incident[] = [];
    const chain = resilientTts(
      [tts, new ElevenLabsTts({ apiKey: 'xi-test', baseUrl: fake.url, voice: 'pNInz6obpgDQGcFmaJgB' })],
      { ...fast, onIncident: (i) => incidents.push(i) },
    );
    const stream = chain.openTextStream!({ format: MULAW_8K }, signal());
    stream.pushText('Hello ');
    stream.pushText('again.');
    stream.end();
    const { total } = await bytes(stream.audio);
    expect(total).toBe((8000 * ms('Hello again.')) / 1000);
    expect(incidents).toMatchObject([{ provider: 'elevenlabs', code: 'server', action: 'fallback' }]);
  });

  it('stream-input silent after the end of the text times out and falls back (never hangs)', async () => {
    fake.faults.push('slow_first_byte');
    const incidents: Incident[] = [];
    const chain = resilientTts([tts, new ElevenLabsTts({ apiKey: 'xi-test', baseUrl: fake.url })], {
      ...fast,
      onIncident: (i) => incidents.push(i),
    });
    const stream = chain.openTextStream!({ format: MULAW_8K }, signal());
    stream.pushText('Are you there?');
    stream.end();
    const { total } = await bytes(stream.audio);
    expect(total).toBe((8000 * ms('Are you there?')) / 1000);
    expect(incidents).toMatchObject([{ provider: 'elevenlabs', code: 'timeout', action: 'fallback' }]);
  });

  it('HTTP faults: 429 retried after Retry-After, 401 falls back, slow first byte times out, drop after first byte fails', async () => {
    const incidents: Incident[] = [];
    const openai = await startOpenAiFake();
    try {
      const chain = resilientTts([tts, new OpenAiTts({ apiKey: 'sk-test', baseURL: `${openai.url}/v1` })], {
        ...fast,
        maxRetries: 1,
        onIncident: (i) => incidents.push(i),
      });
      fake.faults.push('rate_limited');
      expect((await bytes(chain.synthesize({ text: 'One.', format: MULAW_8K }, signal()))).chunks[0]!.format).toEqual(
        MULAW_8K,
      );
      fake.faults.push('unauthorized');
      expect(
        (await bytes(chain.synthesize({ text: 'Two.', format: MULAW_8K }, signal()))).chunks[0]!.format.sampleRate,
      ).toBe(24000);
      fake.faults.push('slow_first_byte', 'slow_first_byte');
      expect(
        (await bytes(chain.synthesize({ text: 'Three.', format: MULAW_8K }, signal()))).chunks[0]!.format.sampleRate,
      ).toBe(24000);
      fake.faults.push('drop');
      const err = await bytes(chain.synthesize({ text: 'Four is longer.', format: MULAW_8K }, signal())).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ProviderError);
      expect(incidents.map((i) => `${i.action}:${i.code}`)).toEqual([
        'retry:rate_limited',
        'fallback:auth',
        'retry:timeout',
        'fallback:timeout',
        'failed:connection',
      ]);
      for (const i of incidents) expect(i.message).not.toContain('xi-test');
    } finally {
      await openai.close();
    }
  });
});

describe('openai and deepgram tts against the loopback fakes', () => {
  let openai: OpenAiFake;
  let deepgram: DeepgramFake;
  beforeAll(async () => {
    openai = await startOpenAiFake({ slowFirstByteMs: 1500 });
    deepgram = await startDeepgramFake({ slowFirstByteMs: 1500 });
  });
  afterAll(async () => {
    await openai.close();
    await deepgram.close();
  });

  it('openai: pcm 24 kHz, Bearer auth, voice and model in the body', async () => {
    const tts = new OpenAiTts({ apiKey: 'sk-test', baseURL: `${openai.url}/v1` });
    const { total, chunks } = await bytes(tts.synthesize({ text: 'Hello', voice: 'nova', format: MULAW_8K }, signal()));
    expect(total).toBe(24000 * 2 * 0.3);
    expect(chunks[0]!.format).toEqual({ encoding: 'pcm16', sampleRate: 24000, channels: 1 });
    expect(JSON.parse(openai.requests.at(-1)!.body!)).toMatchObject({
      input: 'Hello',
      voice: 'nova',
      response_format: 'pcm',
    });
    expect(openai.requests.at(-1)!.headers.authorization).toBe('Bearer sk-test');
  });

  it('deepgram aura: mulaw 8 kHz with Token auth; 500 is retried; abort stops it', async () => {
    const incidents: Incident[] = [];
    const tts: TtsProvider = resilientTts([new DeepgramTts({ apiKey: 'dg-test', baseUrl: deepgram.url })], {
      ...fast,
      onIncident: (i) => incidents.push(i),
    });
    deepgram.faults.push('server_error');
    const { total } = await bytes(tts.synthesize({ text: 'Hello world', format: MULAW_8K }, signal()));
    expect(total).toBe(8000 * 0.66);
    const req = deepgram.requests.at(-1)!;
    expect(req.query).toMatchObject({
      model: 'aura-2-thalia-en',
      encoding: 'mulaw',
      sample_rate: '8000',
      container: 'none',
    });
    expect(req.headers.authorization).toBe('Token dg-test');
    expect(incidents.map((i) => `${i.action}:${i.code}`)).toEqual(['retry:server']);
    deepgram.faults.push('slow_first_byte');
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 50);
    const err = await bytes(tts.synthesize({ text: 'Hello', format: MULAW_8K }, ctrl.signal)).catch((e: unknown) => e);
    expect((err as ProviderError).code).toBe('aborted');
  });
});

describe('elevenlabs stream messages', () => {
  it('word timings from normalizedAlignment when a message carries no alignment', async () => {
    const sent: Record<string, unknown>[] = [];
    const socket = {
      settings: { format: MULAW_8K, voiceSettings: {}, chunkLengthSchedule: [50] },
      send: (m: Record<string, unknown>) => sent.push(m),
      release() {},
      terminate() {},
    } as unknown as ElevenLabsSocket;
    const s = new ContextStream('c1', socket, signal());
    s.onMessage({
      audio: Buffer.alloc(800, 0x10).toString('base64'),
      alignment: null,
      normalizedAlignment: {
        chars: ['H', 'i', ' ', 'y', 'o'],
        charStartTimesMs: [0, 40, 80, 90, 95],
        charDurationsMs: [40, 40, 10, 5, 5],
      },
    });
    s.onMessage({ isFinal: true });
    const { chunks } = await bytes(s.audio);
    expect(chunks.flatMap((c) => c.words ?? [])).toEqual([
      { word: 'Hi', startMs: 0, endMs: 80 },
      { word: 'yo', startMs: 90, endMs: 100 },
    ]);
  });
});
