import { afterEach, describe, expect, it } from 'vitest';
import { lastUser } from '../../bench/scripted.js';
import type { Assistant } from '../../src/assistant.js';
import { clearGreetingCache } from '../../src/call/greeting.js';
import { assistant, harnessPerTest } from './harness.js';

afterEach(clearGreetingCache);

const h = harnessPerTest();

describe('greeting cache', () => {
  it('the second call of an assistant plays the cached greeting without TTS; a personal greeting is not cached', async () => {
    const config = { firstMessage: 'Welcome to Acme.' };
    const a = h({ config, asr: { script: [] }, llm: { respond: () => [] }, tts: { msPerChar: 2 } });
    await a.session.start();
    await a.until(() => a.session.state === 'listening', 'first greeting');
    expect(a.tts.texts).toEqual(['Welcome to Acme.']);
    const b = h({ config, asr: { script: [] }, llm: { respond: () => [] }, tts: { msPerChar: 2 } });
    await b.session.start();
    // Cached audio goes to the leg synchronously within start().
    expect(b.leg.count('play')).toBeGreaterThan(0);
    await b.until(() => b.session.state === 'listening', 'second greeting');
    expect(b.tts.texts).toEqual([]);
    expect(
      b.leg.out.filter((e) => e.type === 'play').reduce((n, e) => n + (e.type === 'play' ? e.samples : 0), 0),
    ).toBe(a.leg.out.filter((e) => e.type === 'play').reduce((n, e) => n + (e.type === 'play' ? e.samples : 0), 0));
    const personal = { firstMessage: 'Hello {{name}}, welcome.' };
    for (let i = 0; i < 2; i++) {
      const c = h({ config: personal, asr: { script: [] }, llm: { respond: () => [] }, tts: { msPerChar: 2 } });
      await c.session.start();
      await c.until(() => c.session.state === 'listening', 'personal greeting');
      expect(c.tts.texts).toEqual(['Hello, welcome.']);
    }
  });
});

describe('live configuration', () => {
  it('a new assistant version applies from the next turn', async () => {
    let current: Assistant = assistant({ prompt: 'Version one.' });
    const x = h({
      config: current.config,
      asr: { script: ['first', 'second'] },
      llm: { respond: (m) => [{ text: `Reply to ${lastUser(m)}.` }], firstTokenMs: 5 },
      tts: { msPerChar: 2 },
      deps: { loadAssistant: async () => current },
    });
    await x.session.start();
    await x.leg.caller('speech', 300);
    await x.leg.caller('silence', 300);
    await x.until(() => x.llm.requests.length === 1 && x.session.state === 'listening', 'first reply');
    current = { ...current, version: 2, config: { prompt: 'Version two.' } };
    await x.leg.caller('speech', 300);
    await x.leg.caller('silence', 300);
    // The poll after turn 2 sees version 2; it applies from turn 3.
    await x.until(() => x.llm.requests.length === 2 && x.session.state === 'listening', 'second reply');
    expect(x.llm.requests[0]!.messages[0]).toMatchObject({ role: 'system', content: 'Version one.' });
    x.leg.dtmf('7');
    x.leg.dtmf('#');
    await x.until(() => x.llm.requests.length === 3, 'third reply');
    expect(x.llm.requests[2]!.messages[0]).toMatchObject({ role: 'system', content: 'Version two.' });
  });
});

describe('after the call', () => {
  const schema = {
    type: 'object',
    properties: { order: { type: 'string' }, satisfied: { type: 'boolean' } },
    required: ['order', 'satisfied'],
  };

  it('structured output is extracted against the schema, validated and stored with a summary and the recording', async () => {
    const x = h({
      config: { hangup: { schema } },
      asr: { script: ['my order is A17'] },
      llm: {
        respond: (m, req) =>
          req.jsonSchema
            ? [{ text: '{"order":"A17","satisfied":true}' }]
            : m[0]?.content.startsWith('Summarize')
              ? [{ text: 'Caller asked about order A17.' }]
              : [{ text: 'Thanks.' }],
        firstTokenMs: 5,
      },
      tts: { msPerChar: 2 },
    });
    await x.session.start();
    await x.leg.caller('speech', 300);
    await x.leg.caller('silence', 300);
    await x.until(() => x.session.state === 'listening' && x.llm.requests.length === 1, 'reply');
    x.leg.stop('caller-hangup');
    const s = await x.session.done;
    expect(s.structuredOutput).toEqual({ order: 'A17', satisfied: true });
    expect(x.sink.record.structuredOutput).toEqual({ order: 'A17', satisfied: true });
    expect(s.summary).toBe('Caller asked about order A17.');
    expect(x.sink.record.recordingPath).toBe(s.recordingPath);
    expect(x.ended).toHaveLength(1);
    expect(s.transcript.map((t) => t.text)).toEqual(['my order is A17', 'Thanks.']);
  });

  it('output that fails the schema is recorded as an error, not thrown', async () => {
    const x = h({
      config: { hangup: { schema } },
      asr: { script: [] },
      llm: { respond: (_m, req) => (req.jsonSchema ? [{ text: '{"order":17}' }] : [{ text: 'ok' }]) },
      tts: { msPerChar: 2 },
    });
    await x.session.start();
    x.leg.stop('caller-hangup');
    const s = await x.session.done;
    expect(s.structuredOutput).toBeUndefined();
    expect(s.structuredOutputError).toMatch(/does not match the schema/);
    expect(x.sink.record.structuredOutputError).toBe(s.structuredOutputError);
    expect(x.sink.record.status).toBe('completed');
  });
});

describe('wire recording', () => {
  it('records raw inbound messages with their times when the assistant asks for it, readable by replay', async () => {
    const { readFileSync } = await import('node:fs');
    const { parseWireRecording } = await import('../../src/call/wire-recorder.js');
    const x = h({ config: { settings: { recordWire: true } }, asr: { script: [] }, llm: { respond: () => [] } });
    await x.session.start();
    x.session.recordWire('{"event":"connected"}', 1000);
    x.session.recordWire(new Uint8Array([1, 2, 3]), 1020.5);
    x.leg.stop('caller-hangup');
    const s = await x.session.done;
    expect(s.wirePath).toBeDefined();
    const parsed = parseWireRecording(readFileSync(s.wirePath!, 'utf8'));
    expect(parsed.protocol).toBe('fake');
    expect(parsed.messages).toEqual([
      { t: 0, text: '{"event":"connected"}' },
      { t: 20.5, bin: Buffer.from([1, 2, 3]).toString('base64') },
    ]);
    const off = h({ config: {}, asr: { script: [] }, llm: { respond: () => [] } });
    await off.session.start();
    off.session.recordWire('{}', 1);
    off.leg.stop('caller-hangup');
    expect((await off.session.done).wirePath).toBeUndefined();
  });
});
