/**
 * Issue 20's numbered cases, each against a fake that behaves as the documented service does, so that a regression
 * against the real service fails here first: the fake's own strictness is asserted too (a raw request that the
 * real service refuses is refused).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeepgramFake } from '../../bench/fakes/deepgram.js';
import { type ElevenLabsFake, startElevenLabsFake } from '../../bench/fakes/elevenlabs.js';
import { type OpenAiFake, startOpenAiFake } from '../../bench/fakes/openai.js';
import { MULAW_8K } from '../../src/audio/format.js';
import { extractStructured } from '../../src/call/post-call.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { DeepgramAsr } from '../../src/providers/asr/deepgram.js';
import { acceptsPrompt } from '../../src/providers/asr/openai.js';
import { OpenAiLlm } from '../../src/providers/llm/openai.js';
import { createProviderRegistry } from '../../src/providers/registry.js';
import { type Incident, resilientLlm, resilientTts } from '../../src/providers/resilience.js';
import { DeepgramTts } from '../../src/providers/tts/deepgram.js';
import { ElevenLabsTts } from '../../src/providers/tts/elevenlabs.js';
import type { AsrEvent, LlmProvider, ProviderError } from '../../src/providers/types.js';
import { drain, signal, until } from './stream-helpers.js';

const fast = { baseDelayMs: 5, maxDelayMs: 10, firstByteTimeoutMs: 1000 };
async function text(llm: LlmProvider, temperature?: number): Promise<string> {
  let t = '';
  for await (const e of llm.stream(
    {
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
      ],
      temperature,
    },
    signal(),
  ))
    if (e.type === 'text') t += e.delta;
  return t;
}

describe('1. reasoning models: no temperature, reasoning_effort; post-call works with gpt-5', () => {
  let fake: OpenAiFake;
  beforeAll(async () => {
    fake = await startOpenAiFake({ chat: { text: '{"name":"Ann"}' } });
  });
  afterAll(() => fake.close());
  const chat = (body: Record<string, unknown>) =>
    fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...body }),
    });

  it('the fake refuses temperature / max_tokens for gpt-5 and o-series, reasoning_effort for gpt-4o', async () => {
    const r1 = await chat({ model: 'gpt-5-mini', temperature: 0 });
    expect(r1.status).toBe(400);
    expect(await r1.json()).toMatchObject({ error: { param: 'temperature', type: 'invalid_request_error' } });
    expect((await chat({ model: 'o4-mini', max_tokens: 10 })).status).toBe(400);
    expect((await chat({ model: 'gpt-4o-mini', reasoning_effort: 'low' })).status).toBe(400);
    expect((await chat({ model: 'gpt-5-chat-latest', temperature: 0.2 })).status).toBe(200);
  });

  it('the adapter drops temperature for gpt-5, sends reasoning_effort, max_completion_tokens and prompt_cache_key', async () => {
    const llm = new OpenAiLlm({
      apiKey: 'sk-test',
      baseURL: `${fake.url}/v1`,
      model: 'gpt-5-mini',
      reasoningEffort: 'minimal',
      promptCacheKey: true,
    });
    expect(await text(llm, 0.3)).toBe('{"name":"Ann"}');
    const body = JSON.parse(fake.requests.at(-1)!.body!) as Record<string, unknown>;
    expect(body.temperature).toBeUndefined();
    expect(body.reasoning_effort).toBe('minimal');
    expect(body.prompt_cache_key).toMatch(/^ve-[0-9a-f]+-9$/);
    // the same system prompt, the same key
    await text(llm);
    expect(JSON.parse(fake.requests.at(-1)!.body!).prompt_cache_key).toBe(body.prompt_cache_key);
  });

  it('gpt-4o keeps temperature and gets no reasoning_effort', async () => {
    const llm = new OpenAiLlm({
      apiKey: 'sk-test',
      baseURL: `${fake.url}/v1`,
      model: 'gpt-4o',
      reasoningEffort: 'low',
    });
    await text(llm, 0.3);
    const body = JSON.parse(fake.requests.at(-1)!.body!) as Record<string, unknown>;
    expect(body.temperature).toBe(0.3);
    expect(body.reasoning_effort).toBeUndefined();
  });

  it('post-call extraction with gpt-5 answers from the model (it used to fall back on the 400)', async () => {
    const llm = new OpenAiLlm({ apiKey: 'sk-test', baseURL: `${fake.url}/v1`, model: 'gpt-5' });
    const out = await extractStructured(llm, { type: 'object', properties: { name: { type: 'string' } } }, [
      { role: 'user', text: 'I am Ann', turn: 1, atMs: 0 },
    ]);
    expect(out).toEqual({ value: { name: 'Ann' } });
  });
});

describe('2. speed ranges per provider', () => {
  let el: ElevenLabsFake;
  beforeAll(async () => {
    el = await startElevenLabsFake();
  });
  afterAll(() => el.close());

  it('elevenlabs: 1.5 is clamped to 1.2 over HTTP and on the WebSocket (where out of range means no audio)', async () => {
    const tts = new ElevenLabsTts({ apiKey: 'xi-test', baseUrl: el.url });
    await drain(tts.synthesize({ text: 'Hi there.', speed: 1.5, format: MULAW_8K }, signal()));
    expect(JSON.parse(el.requests.at(-1)!.body!).voice_settings).toEqual({ speed: 1.2 });
    const from = el.wsMessages.length;
    const s = tts.openTextStream({ speed: 1.5, format: MULAW_8K }, signal());
    s.pushText('Hi there.');
    s.end();
    const audio = await drain(s.audio);
    expect(audio.reduce((n, c) => n + c.data.length, 0)).toBeGreaterThan(0);
    expect(el.wsMessages[from]).toMatchObject({ voice_settings: { speed: 1.2 } });
  });

  it('the elevenlabs fake gives no audio on a WebSocket whose speed is out of range', async () => {
    // bypass the adapter's clamp: a raw first message with speed 1.5
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(
      `${el.url.replace('http', 'ws')}/v1/text-to-speech/x/stream-input?output_format=ulaw_8000`,
      { headers: { 'xi-api-key': 'xi-test' } },
    );
    const got: Record<string, unknown>[] = [];
    ws.on('message', (d) => got.push(JSON.parse(String(d)) as Record<string, unknown>));
    await new Promise((r) => ws.on('open', r));
    ws.send(JSON.stringify({ text: ' ', voice_settings: { speed: 1.5 } }));
    ws.send(JSON.stringify({ text: 'Hello there. ', flush: true }));
    ws.send(JSON.stringify({ text: '' }));
    await new Promise((r) => ws.on('close', r));
    expect(got).toEqual([{ isFinal: true }]);
  });

  it('deepgram: speed is sent (clamped into 0.7-1.5); the fake refuses a speed outside it', async () => {
    const dg = await startDeepgramFake();
    try {
      const tts = new DeepgramTts({ apiKey: 'dg-test', baseUrl: dg.url });
      await drain(tts.synthesize({ text: 'Hi', speed: 1.3, format: MULAW_8K }, signal()));
      expect(dg.requests.at(-1)!.query.speed).toBe('1.3');
      await drain(tts.synthesize({ text: 'Hi', speed: 2, format: MULAW_8K }, signal()));
      expect(dg.requests.at(-1)!.query.speed).toBe('1.5');
      const res = await fetch(`${dg.url}/v1/speak?speed=2`, {
        method: 'POST',
        headers: { authorization: 'Token dg-test', 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'Hi' }),
      });
      expect(res.status).toBe(400);
    } finally {
      await dg.close();
    }
  });

  it('the registry reports a clamp as an "adjusted" incident for each provider of the chain it affects', async () => {
    const config = loadConfig({ ELEVENLABS_API_KEY: 'xi-test', ELEVENLABS_BASE_URL: el.url });
    const incidents: Incident[] = [];
    createProviderRegistry(config, silentLogger).tts(
      { provider: 'elevenlabs', speed: 1.5, fallback: ['offline'] },
      { onIncident: (i) => incidents.push(i) },
    );
    expect(incidents).toMatchObject([{ provider: 'elevenlabs', action: 'adjusted', code: 'bad_request' }]);
    expect(incidents[0]!.message).toContain('clamped to 1.2');
  });
});

describe('3. elevenlabs close 1008 classified by its reason', () => {
  let el: ElevenLabsFake;
  beforeAll(async () => {
    el = await startElevenLabsFake();
  });
  afterAll(() => el.close());
  const failWith = async (fault: 'input_timeout' | 'quota' | 'unauthorized') => {
    el.faults.push(fault);
    const s = new ElevenLabsTts({ apiKey: 'xi-test', baseUrl: el.url, textStream: 'single' }).openTextStream(
      { format: MULAW_8K },
      signal(),
    );
    s.pushText('Hello.');
    s.end();
    return (await drain(s.audio).catch((e: unknown) => e)) as ProviderError;
  };

  it('input_timeout_exceeded is a retryable connection error, quota is quota (not retried), a bad key is auth', async () => {
    const timeout = await failWith('input_timeout');
    expect([timeout.code, timeout.retryable]).toEqual(['connection', true]);
    expect(timeout.message).toContain('input_timeout_exceeded');
    const quota = await failWith('quota');
    expect([quota.code, quota.retryable]).toEqual(['quota', false]);
    const auth = await failWith('unauthorized');
    expect([auth.code, auth.retryable]).toEqual(['auth', false]);
  });

  it('HTTP 401 quota_exceeded is quota: not retried, the chain falls back', async () => {
    const incidents: Incident[] = [];
    const chain = resilientTts(
      [
        new ElevenLabsTts({ apiKey: 'xi-test', baseUrl: el.url }),
        new ElevenLabsTts({ apiKey: 'xi-test', baseUrl: el.url }),
      ],
      { ...fast, maxRetries: 2, onIncident: (i) => incidents.push(i) },
    );
    el.faults.push('quota');
    await drain(chain.synthesize({ text: 'Hi.', format: MULAW_8K }, signal()));
    expect(incidents.map((i) => `${i.action}:${i.code}`)).toEqual(['fallback:quota']);
  });
});

describe('4. elevenlabs multi-context WebSocket', () => {
  let el: ElevenLabsFake;
  beforeAll(async () => {
    el = await startElevenLabsFake({ chunkMs: 30 });
  });
  afterAll(() => el.close());

  it('one socket for the call, one context per utterance; barge-in sends close_context and keeps the socket', async () => {
    const tts = new ElevenLabsTts({ apiKey: 'xi-test', baseUrl: el.url });
    const sockets = () => el.requests.filter((r) => r.path.endsWith('/multi-stream-input')).length;
    const before = sockets();
    const a = tts.openTextStream({ format: MULAW_8K }, signal());
    a.pushText('First answer. ');
    a.end();
    const first = await drain(a.audio);
    expect(first.flatMap((c) => c.words ?? []).map((w) => w.word)).toEqual(['First', 'answer.']);
    const ctrl = new AbortController();
    const b = tts.openTextStream({ format: MULAW_8K }, ctrl.signal);
    b.pushText('A long second answer that the caller interrupts. And more. ');
    const it = b.audio[Symbol.asyncIterator]();
    await it.next(); // first audio of the second utterance
    ctrl.abort(); // barge-in
    expect((await it.next()).done).toBe(true);
    // end of the first, barge-in on the second
    await until(() => el.wsMessages.filter((m) => m.close_context === true).length === 2);
    const ids = new Set(el.wsMessages.map((m) => m.context_id).filter(Boolean));
    expect(ids.size).toBe(2);
    // a third utterance reuses the same socket
    const c = tts.openTextStream({ format: MULAW_8K }, signal());
    c.pushText('Third.');
    c.end();
    expect((await drain(c.audio)).length).toBeGreaterThan(0);
    expect(sockets() - before).toBe(1);
  });
});

describe('5. fakes as strict as the services', () => {
  it('deepgram speak defaults: linear16, 24 kHz, in a WAV container unless container=none', async () => {
    const dg = await startDeepgramFake();
    try {
      const speak = (q: string) =>
        fetch(`${dg.url}/v1/speak${q}`, {
          method: 'POST',
          headers: { authorization: 'Token dg-test', 'content-type': 'application/json' },
          body: JSON.stringify({ text: 'Hi' }),
        }).then(async (r) => Buffer.from(await r.arrayBuffer()));
      const wav = await speak('');
      expect(wav.subarray(0, 4).toString()).toBe('RIFF');
      expect(wav.readUInt32LE(24)).toBe(24000);
      expect(wav.readUInt16LE(34)).toBe(16);
      expect((await speak('?encoding=mulaw&sample_rate=8000&container=none')).length).toBe(8000 * 0.2);
    } finally {
      await dg.close();
    }
  });

  it('elevenlabs answers MP3 unless output_format is given', async () => {
    const el = await startElevenLabsFake();
    try {
      const res = await fetch(`${el.url}/v1/text-to-speech/x/stream`, {
        method: 'POST',
        headers: { 'xi-api-key': 'xi-test', 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'Hi' }),
      });
      expect(res.headers.get('content-type')).toBe('audio/mpeg');
      const b = Buffer.from(await res.arrayBuffer());
      expect(b.readUInt16BE(0) & 0xffe0).toBe(0xffe0); // MPEG frame sync
    } finally {
      await el.close();
    }
  });

  it('a comma-joined keyterm is one keyterm, repeated keyterms are a list', async () => {
    const dg = await startDeepgramFake();
    try {
      const stream = await new DeepgramAsr({ apiKey: 'dg-test', baseUrl: dg.url }).open(
        { format: MULAW_8K, keyterms: ['Acme', 'Bob'] },
        () => {},
      );
      await stream.close();
      expect(dg.requests[0]!.query.keyterm).toEqual(['Acme', 'Bob']);
      const { record } = await import('../../bench/fakes/common.js');
      expect(record({ url: '/v1/listen?keyterm=Acme,Bob', headers: {}, method: 'GET' } as never).query.keyterm).toBe(
        'Acme,Bob',
      );
    } finally {
      await dg.close();
    }
  });

  it('openai 429: rate limits say "requests" / "tokens" and are retried; insufficient_quota is not retried', async () => {
    const fake = await startOpenAiFake({ retryAfterS: 0.01, rateLimitType: 'tokens' });
    try {
      fake.faults.push('rate_limited');
      const raw = await fetch(`${fake.url}/v1/models`, { headers: { authorization: 'Bearer sk-test' } });
      expect(await raw.json()).toMatchObject({ error: { type: 'tokens', code: 'rate_limit_exceeded' } });
      const incidents: Incident[] = [];
      const llm = resilientLlm([new OpenAiLlm({ apiKey: 'sk-test', baseURL: `${fake.url}/v1` })], {
        ...fast,
        maxRetries: 3,
        onIncident: (i) => incidents.push(i),
      });
      fake.faults.push('rate_limited');
      expect(await text(llm)).toBe('Hello there.');
      fake.faults.push('quota');
      const err = (await text(llm).catch((e: unknown) => e)) as ProviderError;
      expect([err.code, err.retryable]).toEqual(['quota', false]);
      expect(incidents.map((i) => `${i.action}:${i.code}`)).toEqual(['retry:rate_limited', 'failed:quota']);
    } finally {
      await fake.close();
    }
  });
});

describe('6. deepgram listen: 1008, Error messages, Finalize on short pauses', () => {
  const FRAME = new Uint8Array(160).fill(0xff);

  it('1008 DATA-0000 is fatal with no reconnect; a server Error message is surfaced', async () => {
    const dg = await startDeepgramFake({ utteranceMs: 200 });
    try {
      const events: AsrEvent[] = [];
      dg.faults.push('undecodable');
      const s = await new DeepgramAsr({ apiKey: 'dg-test', baseUrl: dg.url }).open({ format: MULAW_8K }, (e) =>
        events.push(e),
      );
      s.write(FRAME);
      await until(() => events.some((e) => e.type === 'closed'));
      expect(events[0]).toMatchObject({ type: 'error', fatal: true, error: { code: 'bad_request' } });
      expect(dg.requests.filter((r) => r.path === '/v1/listen').length).toBe(1);

      const ev2: AsrEvent[] = [];
      dg.faults.push('server_error_message');
      const s2 = await new DeepgramAsr({ apiKey: 'dg-test', baseUrl: dg.url, maxReconnects: 1 }).open(
        { format: MULAW_8K },
        (e) => ev2.push(e),
      );
      for (let i = 0; i < 6; i++) s2.write(FRAME);
      await until(() => ev2.some((e) => e.type === 'error'));
      const err = ev2.find((e) => e.type === 'error');
      expect(err).toMatchObject({ type: 'error', fatal: false, error: { code: 'server' } });
      expect((err as { error: ProviderError }).error.message).toContain('NET-0001');
      await s2.close();
    } finally {
      await dg.close();
    }
  });

  it('finalizeDelayMs holds Finalize and drops it when the recognizer hears more words', async () => {
    const dg = await startDeepgramFake({ utteranceMs: 400, transcripts: ['one two three four'] });
    try {
      const s = await new DeepgramAsr({ apiKey: 'dg-test', baseUrl: dg.url }).open(
        { format: MULAW_8K, finalizeDelayMs: 300 },
        () => {},
      );
      s.finalize(); // a short pause, then the interim of continued speech arrives before 300 ms
      for (let i = 0; i < 10; i++) s.write(FRAME); // 200 ms: the fake's interim (new words)
      await new Promise((r) => setTimeout(r, 400));
      expect(dg.finalizes).toBe(0);
      s.finalize(); // a real pause: nothing more is heard
      await until(() => dg.finalizes === 1);
      await s.close();
    } finally {
      await dg.close();
    }
  });
});

describe('7. transcription prompt', () => {
  it('gpt-4o-transcribe-diarize takes no prompt (where keyterms go); the others do', () => {
    expect(acceptsPrompt('gpt-4o-transcribe-diarize')).toBe(false);
    expect(acceptsPrompt('gpt-4o-mini-transcribe')).toBe(true);
    expect(acceptsPrompt('gpt-4o-transcribe')).toBe(true);
    expect(acceptsPrompt('whisper-1')).toBe(true);
  });
});
