import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeepgramFake, startDeepgramFake } from '../../bench/fakes/deepgram.js';
import { type ElevenLabsFake, startElevenLabsFake } from '../../bench/fakes/elevenlabs.js';
import { type OpenAiFake, startOpenAiFake } from '../../bench/fakes/openai.js';
import { MULAW_8K } from '../../src/audio/format.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { createProviderRegistry, type Incident } from '../../src/providers/registry.js';

describe('registry with no keys (embedded defaults)', () => {
  const reg = createProviderRegistry(loadConfig({}), silentLogger);

  it('defaults to offline asr, rules llm, offline tts and no embeddings', async () => {
    expect(reg.asr().id).toBe('offline');
    expect(reg.llm().id).toBe('rules');
    expect(reg.tts().id).toBe('offline');
    expect(reg.embed()).toBeUndefined();
    const tts = await reg.catalog.providers('tts');
    expect(tts.find((p) => p.id === 'elevenlabs')).toMatchObject({
      configured: false,
      offline: false,
      formats: ['mulaw_8000', 'pcm16_16000', 'pcm16_24000', 'pcm16_8000'],
    });
    expect(tts.find((p) => p.id === 'offline')).toMatchObject({ configured: true, offline: true });
    expect((await reg.catalog.providers('llm')).map((p) => p.id)).toEqual(['openai', 'rules']);
  });

  it('a cloud provider without a key falls back to the embedded one, reported as an incident', async () => {
    const incidents: Incident[] = [];
    const llm = reg.llm(
      { provider: 'openai', fallbackReply: 'No model here.' },
      { onIncident: (i) => incidents.push(i) },
    );
    let text = '';
    for await (const e of llm.stream({ messages: [{ role: 'user', content: 'hi' }] }, new AbortController().signal))
      if (e.type === 'text') text += e.delta;
    expect(text).toBe('No model here.');
    expect(incidents).toMatchObject([{ kind: 'llm', provider: 'openai', code: 'unavailable', action: 'fallback' }]);
  });

  it('the catalog lists the streaming and model options: Flux, Realtime transcription, reasoning models, Aura and ElevenLabs WebSockets, current OpenAI voices', async () => {
    const features = async (kind: 'asr' | 'llm' | 'tts', id: string) =>
      ((await reg.catalog.providers(kind)).find((p) => p.id === id)?.features ?? []).join('\n');
    expect((await reg.catalog.models('asr', 'deepgram')).map((m) => m.id)).toContain('flux-general-en');
    expect(await features('asr', 'deepgram')).toMatch(/flux-\* models: \/v2\/listen/);
    expect(await features('asr', 'deepgram')).toMatch(/utterance_end_ms \(bounded/);
    expect(await features('asr', 'openai')).toMatch(/Realtime API transcription .*server VAD/);
    expect(await features('llm', 'openai')).toMatch(/reasoningEffort sent, temperature never sent/);
    expect(await features('llm', 'openai')).toMatch(/prompt_cache_key/);
    expect((await reg.catalog.models('llm', 'openai')).map((m) => m.id)).toEqual(
      expect.arrayContaining(['gpt-5', 'gpt-5-mini', 'o4-mini']),
    );
    expect(await features('tts', 'deepgram')).toMatch(/speak WebSocket .*Clear on barge-in/);
    expect(await features('tts', 'elevenlabs')).toMatch(/multi-context WebSocket .*close_context/);
    expect(await features('tts', 'elevenlabs')).toMatch(/previous_text \/ next_text/);
    const openaiVoices = (await reg.catalog.voices('openai')).map((v) => v.id);
    expect(openaiVoices).toEqual(expect.arrayContaining(['marin', 'cedar', 'ash', 'ballad', 'coral', 'sage', 'verse']));
    expect(await reg.catalog.validate('tts', { provider: 'openai', voice: 'marin' })).toBeNull();
  });

  it('curated models and voices; validate names the unknown provider / model / voice', async () => {
    expect((await reg.catalog.models('asr', 'deepgram')).map((m) => m.id)).toContain('nova-3');
    expect((await reg.catalog.models('llm', 'openai'))[0]!.source).toBe('curated');
    expect((await reg.catalog.voices('elevenlabs')).map((v) => v.name)).toContain('Rachel');
    expect(
      await reg.catalog.validate('tts', {
        provider: 'elevenlabs',
        voice: '21m00Tcm4TlvDq8ikWAM',
        model: 'eleven_flash_v2_5',
      }),
    ).toBeNull();
    expect(await reg.catalog.validate('tts', { provider: 'acme' })).toContain("unknown tts provider 'acme'");
    expect(await reg.catalog.validate('asr', { provider: 'deepgram', model: 'nova-9' })).toContain(
      "unknown asr model 'nova-9'",
    );
    expect(await reg.catalog.validate('tts', { provider: 'openai', voice: 'nobody' })).toContain(
      "unknown voice 'nobody'",
    );
    expect(await reg.catalog.validate('llm', { provider: 'openai', model: 'llama3.1:8b' })).toBeNull(); // compatible servers name their own
    expect(await reg.catalog.validate('asr', { provider: 'deepgram', fallback: ['nope'] })).toContain("'nope'");
  });
});

describe('registry with keys pointing at the loopback fakes', () => {
  let openai: OpenAiFake;
  let eleven: ElevenLabsFake;
  let deepgram: DeepgramFake;
  beforeAll(async () => {
    openai = await startOpenAiFake({
      models: ['gpt-4o-mini', 'llama3.1:8b', 'whisper-1', 'tts-1', 'text-embedding-3-small'],
    });
    eleven = await startElevenLabsFake({
      voices: [{ voice_id: 'abcdefghijklmnopqrst', name: 'Custom Clone', labels: { gender: 'female' } }],
    });
    deepgram = await startDeepgramFake();
  });
  afterAll(async () => {
    await Promise.all([openai.close(), eleven.close(), deepgram.close()]);
  });
  const registry = () =>
    createProviderRegistry(
      loadConfig({
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: `${openai.url}/v1`,
        ELEVENLABS_API_KEY: 'xi-test',
        ELEVENLABS_BASE_URL: eleven.url,
        DEEPGRAM_API_KEY: 'dg-test',
        DEEPGRAM_BASE_URL: deepgram.url,
      }),
      silentLogger,
      { resilience: { baseDelayMs: 5, maxDelayMs: 10 } },
    );

  it('lists live models (OpenAI GET /v1/models) and voices (ElevenLabs GET /v1/voices)', async () => {
    const reg = registry();
    expect((await reg.catalog.models('llm', 'openai')).map((m) => m.id)).toEqual(['gpt-4o-mini', 'llama3.1:8b']);
    expect((await reg.catalog.models('asr', 'openai')).map((m) => m.id)).toEqual(['whisper-1']);
    const voices = await reg.catalog.voices('elevenlabs');
    expect(voices).toEqual([
      {
        id: 'abcdefghijklmnopqrst',
        name: 'Custom Clone',
        provider: 'elevenlabs',
        gender: 'female',
        language: undefined,
        source: 'live',
      },
    ]);
    expect(await reg.catalog.validate('tts', { provider: 'elevenlabs', voice: 'Custom Clone' })).toBeNull();
    expect(await reg.catalog.validate('tts', { provider: 'elevenlabs', voice: '21m00Tcm4TlvDq8ikWAM' })).toContain(
      'unknown voice',
    );
    expect(eleven.requests.find((r) => r.path === '/v1/voices')!.headers['xi-api-key']).toBe('xi-test');
    expect(reg.embed()?.id).toBe('openai');
    expect((await reg.catalog.providers('asr')).find((p) => p.id === 'deepgram')!.configured).toBe(true);
  });

  it('tts elevenlabs -> openai -> offline: a 401 at ElevenLabs falls back to OpenAI without the ElevenLabs voice', async () => {
    const incidents: Incident[] = [];
    const tts = registry().tts(
      { provider: 'elevenlabs', voice: 'abcdefghijklmnopqrst' },
      { onIncident: (i) => incidents.push(i) },
    );
    eleven.faults.push('unauthorized');
    const rates = new Set<number>();
    for await (const c of tts.synthesize({ text: 'Hello.', format: MULAW_8K }, new AbortController().signal))
      rates.add(c.format.sampleRate);
    expect([...rates]).toEqual([24000]);
    expect(incidents).toMatchObject([{ kind: 'tts', provider: 'elevenlabs', code: 'auth', action: 'fallback' }]);
    expect(JSON.parse(openai.requests.at(-1)!.body!).voice).toBe('alloy');
  });

  it('asr deepgram is the primary when chosen, and transcribes', async () => {
    const asr = registry().asr({ provider: 'deepgram' });
    expect(asr.id).toBe('deepgram');
    const texts: string[] = [];
    const stream = await asr.open({ format: MULAW_8K }, (e) => {
      if (e.type === 'final') texts.push(e.text);
    });
    for (let i = 0; i < 50; i++) stream.write(new Uint8Array(160).fill(0xff));
    await stream.close();
    expect(texts).toEqual(['hello world']);
  });

  it('secrets never reach the logs: incidents from a rejected key are logged without it', async () => {
    let logged = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logged += String(chunk);
        cb();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    const reg = createProviderRegistry(
      loadConfig({
        OPENAI_API_KEY: 'sk-very-secret-key-123',
        OPENAI_BASE_URL: `${openai.url}/v1`,
        ELEVENLABS_API_KEY: 'xi-very-secret-key-456',
        ELEVENLABS_BASE_URL: eleven.url,
      }),
      logger,
      { resilience: { baseDelayMs: 5 } },
    );
    let text = '';
    for await (const e of reg
      .llm({ provider: 'openai' })
      .stream({ messages: [{ role: 'user', content: 'hi' }] }, new AbortController().signal)) {
      if (e.type === 'text') text += e.delta;
    }
    for await (const _ of reg
      .tts({ provider: 'elevenlabs' })
      .synthesize({ text: 'Hi.', format: MULAW_8K }, new AbortController().signal))
      void _;
    expect(text.length).toBeGreaterThan(0); // answered by the rules fallback
    expect(logged).toContain('provider incident');
    expect(logged).not.toContain('sk-very-secret-key-123');
    expect(logged).not.toContain('xi-very-secret-key-456');
  });
});
