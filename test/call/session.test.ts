import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { lastUser } from '../../bench/scripted.js';
import { clearGreetingCache } from '../../src/call/greeting.js';
import { harnessPerTest } from './harness.js';

afterEach(clearGreetingCache);

const h = harnessPerTest();

const answer = (messages: Parameters<typeof lastUser>[0]) => {
  const u = lastUser(messages).toLowerCase();
  if (u.includes('hours'))
    return [{ text: 'We are open from nine to five, Monday to Friday. Is there anything else?' }];
  if (u.includes('story'))
    return [
      {
        text: 'Once upon a time there was a small village by the sea. Every morning the fishermen went out in their boats. One day a storm came and everyone stayed home.',
      },
    ];
  return [{ text: `You said ${u}.` }];
};

describe('CallSession with a fake leg and scripted providers', () => {
  it('greets, answers a question, and records states, transcript and per-turn metrics', async () => {
    const x = h({
      config: { firstMessage: 'Hello, thanks for calling. How can I help?' },
      asr: { script: ['what are your opening hours?'] },
      llm: { respond: answer, firstTokenMs: 50 },
      tts: { msPerChar: 5 },
    });
    await x.session.start();
    await x.until(() => x.session.state === 'listening', 'greeting played');
    expect(x.tts.texts[0]).toContain('Hello, thanks for calling');
    await x.leg.caller('speech', 600);
    await x.leg.caller('silence', 200);
    await x.until(
      () => x.session.transcript.some((t) => t.role === 'assistant' && t.text.includes('nine to five')),
      'answer',
    );
    await x.until(() => x.session.state === 'listening', 'answer played');
    const states = x.sink.states();
    expect(states.slice(0, 6)).toEqual([
      'greeting',
      'listening',
      'user_speaking',
      'thinking',
      'agent_speaking',
      'listening',
    ]);
    expect(x.session.transcript.map((t) => t.role)).toEqual(['assistant', 'user', 'assistant']);
    expect(x.session.transcript[1]!.text).toBe('what are your opening hours?');
    const turn = x.sink.of('turn')[0]!;
    expect(turn.turn).toBe(1);
    for (const k of ['endpointingMs', 'llmFirstTokenMs', 'ttsFirstByteMs', 'voiceToVoiceMs'])
      expect(typeof turn[k]).toBe('number');
    // The first sentence went to TTS on its own, before the rest of the reply.
    const full = 'We are open from nine to five, Monday to Friday. Is there anything else?';
    const firstPiece = x.tts.texts.find((t) => t.startsWith('We are open'))!;
    expect(firstPiece.length).toBeLessThan(full.length);
    expect(full.startsWith(firstPiece)).toBe(true);
    const metricsEvent = x.leg.out.find(
      (e) => e.type === 'event' && e.event.type === 'event' && e.event.name === 'turn.metrics',
    );
    expect(metricsEvent).toBeDefined();
    x.leg.stop('caller-hangup');
    const summary = await x.session.done;
    expect(summary.endReason).toBe('caller-hangup');
    expect(x.sink.record.status).toBe('completed');
    expect(summary.recordingPath && existsSync(summary.recordingPath)).toBe(true);
    const wav = readFileSync(summary.recordingPath!);
    expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
    expect(wav.readUInt16LE(22)).toBe(2);
  });

  it('barge-in mid-answer: clear is sent and the history keeps only what the caller heard', async () => {
    const x = h({
      config: { settings: { bargeInMinSpeechMs: 100 } },
      asr: { script: ['tell me a story', 'stop please'] },
      llm: { respond: answer, firstTokenMs: 30 },
      tts: { msPerChar: 20 },
    });
    await x.session.start();
    await x.leg.caller('speech', 500);
    await x.leg.caller('silence', 200);
    await x.until(() => x.session.state === 'agent_speaking', 'agent speaking');
    await x.leg.caller('silence', 1200);
    // The caller talks over the agent.
    await x.leg.caller('speech', 400);
    await x.until(() => x.leg.count('clear') > 0, 'clear sent');
    await x.leg.caller('silence', 300);
    await x.until(() => x.session.transcript.some((t) => t.role === 'user' && t.text === 'stop please'), 'second turn');
    const full = answer([{ role: 'user', content: 'story' }])[0]!.text;
    const assistantMsg = x.session.history.find((m) => m.role === 'assistant');
    expect(assistantMsg?.role === 'assistant' && assistantMsg.content.length).toBeGreaterThan(0);
    expect(assistantMsg?.role === 'assistant' && assistantMsg.content.length).toBeLessThan(full.length);
    expect(full.startsWith((assistantMsg as { content: string }).content)).toBe(true);
    const barge = x.sink.of('state').find((s) => s.reason === 'barge_in');
    expect(barge?.heard).toBe((assistantMsg as { content: string }).content);
    expect(x.session.transcript.find((t) => t.role === 'assistant')?.interrupted).toBe(true);
    // The second LLM request saw the truncated answer, not the full one.
    const req = x.llm.requests[1]!;
    const a = req.messages.find((m) => m.role === 'assistant');
    expect(a?.role === 'assistant' && a.content).toBe((assistantMsg as { content: string }).content);
  });

  it('a backchannel while the agent speaks pauses it, then resumes it: no barge-in, no new turn', async () => {
    const x = h({
      config: { settings: { bargeInMinSpeechMs: 100 } },
      asr: { script: ['tell me a story', { text: 'uh-huh', partial: 'uh-huh' }], partialAfterMs: 40 },
      llm: { respond: answer, firstTokenMs: 30 },
      tts: { msPerChar: 15 },
    });
    await x.session.start();
    await x.leg.caller('speech', 500);
    await x.leg.caller('silence', 200);
    await x.until(() => x.session.state === 'agent_speaking', 'agent speaking');
    await x.leg.caller('silence', 600);
    await x.leg.caller('speech', 300);
    await x.leg.caller('silence', 400);
    await x.until(() => x.session.state === 'listening', 'answer finished', 15_000);
    // Confirmed speech stopped the agent's audio at once (one clear), then the acknowledgement resumed it.
    expect(x.leg.count('clear')).toBe(1);
    const states = x.sink.of('state');
    const paused = states.findIndex((s) => s.paused === true);
    expect(paused).toBeGreaterThanOrEqual(0);
    expect(states.findIndex((s) => s.resumed === true)).toBeGreaterThan(paused);
    expect(states.some((s) => s.reason === 'barge_in')).toBe(false);
    expect(x.session.transcript.filter((t) => t.role === 'user').map((t) => t.text)).toEqual(['tell me a story']);
    expect(x.llm.requests.length).toBe(1);
  });

  it('waits through a mid-sentence hesitation and commits one turn', async () => {
    const x = h({
      config: {},
      asr: { script: ['my number is', 'five five five one two'] },
      llm: { respond: answer, firstTokenMs: 20 },
      tts: { msPerChar: 5 },
    });
    await x.session.start();
    await x.leg.caller('speech', 500);
    await x.leg.caller('silence', 700);
    await x.leg.caller('speech', 500);
    await x.leg.caller('silence', 300);
    await x.until(() => x.llm.requests.length === 1, 'llm called');
    expect(lastUser(x.llm.requests[0]!.messages)).toBe('my number is five five five one two');
  });

  it('the caller goes on talking while the agent is still thinking: the reply is dropped and the turn grows', async () => {
    const x = h({
      config: {},
      asr: { script: ['I want to book a table', 'for four people tonight'] },
      llm: { respond: answer, firstTokenMs: 600 },
      tts: { msPerChar: 5 },
    });
    await x.session.start();
    await x.leg.caller('speech', 500);
    await x.leg.caller('silence', 500);
    await x.leg.caller('speech', 500);
    await x.leg.caller('silence', 300);
    await x.until(() => x.llm.requests.length === 2, 'second request');
    expect(lastUser(x.llm.requests[0]!.messages)).toBe('I want to book a table');
    expect(lastUser(x.llm.requests[1]!.messages)).toBe('I want to book a table for four people tonight');
    // Nothing of the dropped reply was spoken; the history has one user message for the whole turn.
    await x.until(() => x.session.state === 'listening', 'answer played');
    expect(x.tts.texts.join(' ')).toBe('You said i want to book a table for four people tonight.');
    expect(x.session.history.filter((m) => m.role === 'user')).toHaveLength(1);
    expect(x.session.transcript.filter((t) => t.role === 'user').map((t) => t.text)).toEqual([
      'I want to book a table for four people tonight',
    ]);
  });
});
