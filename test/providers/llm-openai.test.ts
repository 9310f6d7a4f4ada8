import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenAiFake, startOpenAiFake } from '../../bench/fakes/openai.js';
import { OpenAiLlm } from '../../src/providers/llm/openai.js';
import { RulesLlm } from '../../src/providers/llm/rules.js';
import { type Incident, resilientLlm } from '../../src/providers/resilience.js';
import { type LlmEvent, type LlmProvider, ProviderError, type Timing } from '../../src/providers/types.js';

async function collect(p: LlmProvider, signal = new AbortController().signal, timing?: Timing): Promise<LlmEvent[]> {
  const out: LlmEvent[] = [];
  for await (const e of p.stream(
    {
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ name: 'book', description: 'd', parameters: { type: 'object' } }],
    },
    signal,
    timing,
  ))
    out.push(e);
  return out;
}

const text = (events: LlmEvent[]) => events.map((e) => (e.type === 'text' ? e.delta : '')).join('');
const fast = { baseDelayMs: 5, maxDelayMs: 10, firstByteTimeoutMs: 400 };

describe('openai llm against the loopback fake', () => {
  let fake: OpenAiFake;
  let llm: OpenAiLlm;
  beforeAll(async () => {
    fake = await startOpenAiFake({
      chat: (body) =>
        body.tools
          ? { text: 'Booking that now.', toolCalls: [{ name: 'book', arguments: '{"day":"monday","time":"10:00"}' }] }
          : { text: 'plain' },
      slowFirstByteMs: 1500,
      retryAfterS: 0.05,
    });
    llm = new OpenAiLlm({ apiKey: 'sk-test', baseURL: `${fake.url}/v1` });
  });
  afterAll(() => fake.close());

  it('streams text deltas, assembles tool-call deltas, reports usage and timing, sends Bearer auth', async () => {
    const timing: Timing = {};
    const events = await collect(llm, undefined, timing);
    expect(text(events)).toBe('Booking that now.');
    expect(events.filter((e) => e.type === 'text').length).toBe(3);
    const call = events.find((e) => e.type === 'tool_call');
    expect(call).toEqual({
      type: 'tool_call',
      call: { id: 'call_0', name: 'book', arguments: '{"day":"monday","time":"10:00"}' },
    });
    expect(events.find((e) => e.type === 'usage')).toMatchObject({ type: 'usage', promptTokens: 12 });
    expect(events.at(-1)).toEqual({ type: 'done', finishReason: 'tool_calls' });
    expect(timing.requestSentAt).toBeLessThanOrEqual(timing.firstByteAt!);
    expect(timing.firstByteAt).toBeLessThanOrEqual(timing.doneAt!);
    const req = fake.requests.at(-1)!;
    expect(req.headers.authorization).toBe('Bearer sk-test');
    expect(JSON.parse(req.body!)).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('sends jsonSchema as response_format json_schema', async () => {
    const events: LlmEvent[] = [];
    for await (const e of llm.stream(
      { messages: [{ role: 'user', content: 'x' }], jsonSchema: { type: 'object' } },
      new AbortController().signal,
    ))
      events.push(e);
    expect(JSON.parse(fake.requests.at(-1)!.body!).response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'output', schema: { type: 'object' }, strict: false },
    });
  });

  it('401 is a typed auth error, not retried, and no key in the message', async () => {
    const bad = new OpenAiLlm({ apiKey: 'sk-wrong-key', baseURL: `${fake.url}/v1` });
    const incidents: Incident[] = [];
    const err = await collect(resilientLlm([bad], { ...fast, onIncident: (i) => incidents.push(i) })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).code).toBe('auth');
    expect((err as ProviderError).message).not.toContain('sk-wrong-key');
    expect(incidents.map((i) => i.action)).toEqual(['failed']);
  });

  it('429 with Retry-After and 500 are retried, then succeed', async () => {
    fake.faults.push('rate_limited', 'server_error');
    const incidents: Incident[] = [];
    const events = await collect(resilientLlm([llm], { ...fast, onIncident: (i) => incidents.push(i) }));
    expect(text(events)).toBe('Booking that now.');
    expect(incidents.map((i) => `${i.action}:${i.code}`)).toEqual(['retry:rate_limited', 'retry:server']);
  });

  it('a slow first byte times out and falls back to the rules agent', async () => {
    fake.faults.push('slow_first_byte', 'slow_first_byte', 'slow_first_byte');
    const incidents: Incident[] = [];
    const chain = resilientLlm([llm, new RulesLlm({ fallbackReply: 'Fallback here.' })], {
      ...fast,
      maxRetries: 0,
      onIncident: (i) => incidents.push(i),
    });
    const events = await collect(chain);
    expect(text(events)).toBe('Fallback here.');
    expect(incidents).toMatchObject([{ provider: 'openai', code: 'timeout', action: 'fallback' }]);
    fake.faults.length = 0;
  });

  it('a connection dropped after the first byte is a clear error, never retried', async () => {
    fake.faults.push('drop');
    const incidents: Incident[] = [];
    const seen: LlmEvent[] = [];
    const err = await (async () => {
      for await (const e of resilientLlm([llm, new RulesLlm()], {
        ...fast,
        onIncident: (i) => incidents.push(i),
      }).stream({ messages: [{ role: 'user', content: 'hi' }] }, new AbortController().signal))
        seen.push(e);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(['connection', 'malformed']).toContain((err as ProviderError).code);
    expect(seen.length).toBeGreaterThan(0);
    expect(incidents.map((i) => i.action)).toEqual(['failed']);
  });

  it('a malformed SSE frame is a typed error', async () => {
    fake.faults.push('malformed');
    const err = await collect(llm).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).code).toBe('malformed');
  });

  it('abort stops the stream promptly with an aborted error', async () => {
    fake.faults.push('slow_first_byte');
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 50);
    const err = await collect(resilientLlm([llm], fast), ctrl.signal).catch((e: unknown) => e);
    expect((err as ProviderError).code).toBe('aborted');
    fake.faults.length = 0;
  });
});
