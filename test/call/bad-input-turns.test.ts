/**
 * Bad input in a whole call session (fake leg, scripted providers): noise only, silence only, and a caller who
 * talks without pause. Each gives reprompts or bounded turns, and the call stays healthy: a question asked
 * afterwards is answered. Assertions are on what happened, never on milliseconds.
 */
import { describe, expect, it } from 'vitest';
import { lastUser } from '../../bench/scripted.js';
import { harnessPerTest } from './harness.js';

const h = harnessPerTest();

const echo = (m: Parameters<typeof lastUser>[0]) => [{ text: `You said ${lastUser(m)}` }];

/** After the bad input: the caller asks something and is answered. */
async function stillHealthy(x: ReturnType<typeof h>, question: string): Promise<void> {
  await x.until(() => x.session.state === 'listening', 'listening again', 15_000);
  await x.leg.caller('speech', 600);
  await x.leg.caller('silence', 800);
  await x.until(() => x.tts.texts.some((t) => t.includes(`You said ${question}`)), 'the question answered', 15_000);
  expect(x.session.state).not.toBe('ended');
}

describe('bad input keeps the call healthy', () => {
  it('noise only (speech-like energy the recognizer gives no words for): a reprompt, never a turn', async () => {
    const x = h({
      config: {},
      // The first segment is heard as nothing (noise); the next one is a question.
      asr: { script: ['', 'what are your hours?'] },
      llm: { respond: echo, firstTokenMs: 20 },
      tts: { msPerChar: 5 },
    });
    await x.session.start();
    await x.leg.caller('speech', 1500);
    await x.leg.caller('silence', 300);
    await x.until(() => x.tts.texts.join(' ').includes("didn't catch that"), 'reprompt', 15_000);
    expect(x.sink.of('transcript').some((t) => t.unintelligible === true)).toBe(true);
    expect(x.session.transcript.filter((t) => t.role === 'user')).toEqual([]);
    expect(x.llm.requests).toHaveLength(0);
    await stillHealthy(x, 'what are your hours?');
  });

  it('silence only: no turn, no reprompt before the silence timeout, and the call goes on', async () => {
    const x = h({
      config: { settings: { silenceTimeoutMs: 20_000 } },
      asr: { script: ['hello?'] },
      llm: { respond: echo, firstTokenMs: 20 },
      tts: { msPerChar: 5 },
    });
    await x.session.start();
    await x.leg.caller('silence', 3000);
    expect(x.tts.texts).toEqual([]);
    expect(x.session.transcript).toEqual([]);
    expect(x.session.state).toBe('listening');
    await stillHealthy(x, 'hello?');
  });

  it('a caller who never pauses is cut into bounded turns, and the call goes on', async () => {
    let start = 0;
    const words = 'one two three four five six seven eight nine ten eleven twelve'.split(' ');
    const saying = () => {
      // The words said so far, three a second.
      const n = Math.min(words.length, 1 + Math.floor((performance.now() - start) / 333));
      return { text: words.slice(0, n).join(' '), partial: words.slice(0, n).join(' ') };
    };
    const x = h({
      config: { settings: { maxUtteranceMs: 3000 } },
      asr: { script: [], saying, interimEveryMs: 200 },
      llm: { respond: echo, firstTokenMs: 20 },
      tts: { msPerChar: 5 },
    });
    await x.session.start();
    start = performance.now();
    await x.leg.caller('speech', 7000);
    await x.leg.caller('silence', 1000);
    const users = x.session.transcript.filter((t) => t.role === 'user');
    // Bounded: cut at maxUtteranceMs while the caller talks on, not one 7 s turn.
    expect(users.length).toBeGreaterThanOrEqual(2);
    expect(x.session.state).not.toBe('ended');
  });
});
