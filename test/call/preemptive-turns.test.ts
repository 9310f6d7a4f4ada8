/**
 * Preemptive generation in a whole call session (fake leg, scripted providers): the reply is prepared on the
 * caller's words while endpointing still waits, adopted when the committed words match, dropped unheard when the
 * caller goes on, and never started with settings.preemptiveGeneration false. Assertions are on the order of
 * events and on what reached the leg, never on milliseconds.
 */
import { describe, expect, it } from 'vitest';
import { lastUser } from '../../bench/scripted.js';
import type { AssistantSettings } from '../../src/assistant.js';
import { harnessPerTest } from './harness.js';

const h = harnessPerTest();

const echo = (m: Parameters<typeof lastUser>[0]) => [{ text: `You said ${lastUser(m)}` }];

/**
 * A call whose caller says `script` (one entry per speech segment), with a long endpointing wait so that what
 * happens before the commit is visible, a quick recognizer and LLM.
 */
async function call(script: string[], settings: AssistantSettings = {}) {
  const x = h({
    config: { settings: { endpointing: { minDelayMs: 800, maxDelayMs: 1500 }, ...settings } },
    asr: { script, finalLatencyMs: 20, segmentGapMs: 60 },
    llm: { respond: echo, firstTokenMs: 20 },
    tts: { msPerChar: 5 },
  });
  await x.session.start();
  await x.leg.caller('speech', 600);
  await x.leg.caller('silence', 300);
  return x;
}

/** The index in the sink's events of the first state event `state`. */
const stateIndex = (x: ReturnType<typeof h>, state: string): number =>
  x.sink.events.findIndex((e) => e.type === 'state' && e.data.state === state);

describe('preemptive generation in a call', () => {
  it('starts the LLM before the commit and keeps the reply when the final words match', async () => {
    const x = await call(['What are your opening hours?']);
    // Still waiting for the end of the turn, and the LLM already has the request.
    expect(stateIndex(x, 'thinking')).toBe(-1);
    expect(x.llm.requests).toHaveLength(1);
    await x.leg.caller('silence', 1000);
    await x.until(() => x.tts.texts.some((t) => t.includes('You said')), 'answer');
    // One LLM request in all: the prepared one was adopted.
    expect(x.llm.requests).toHaveLength(1);
    expect(x.sink.of('turn')[0]).toMatchObject({ turn: 1, preemptive: true });
  });

  it('the caller goes on after a pause: the prepared reply is dropped unheard and the answer is to both', async () => {
    const x = await call(['The number you dialed is not in service.', 'Please check it.']);
    await x.leg.caller('silence', 100);
    // Prepared on the first sentence, and its text streamed already: nothing of it may reach the caller.
    expect(x.llm.requests).toHaveLength(1);
    expect(lastUser(x.llm.requests[0]!.messages)).toBe('The number you dialed is not in service.');
    await x.leg.caller('speech', 600);
    await x.leg.caller('silence', 1500);
    await x.until(() => x.tts.texts.some((t) => t.includes('You said')), 'answer');
    await x.until(() => x.session.state === 'listening', 'answer played');
    // The reply prepared on the first sentence was never synthesized; the one reply spoken answers the whole turn
    // (replies prepared on the words while they grew were dropped too).
    const spoken = x.tts.texts.join(' ');
    expect(spoken.match(/You said/g)).toHaveLength(1);
    expect(spoken).toContain('You said The number you dialed is not in service. Please check it.');
    const users = x.session.transcript.filter((t) => t.role === 'user').map((t) => t.text);
    expect(users).toEqual(['The number you dialed is not in service. Please check it.']);
    expect(x.sink.of('state').some((s) => s.reason === 'barge_in')).toBe(false);
  });

  it('with preemptiveGeneration false the LLM starts only at the commit', async () => {
    const x = await call(['What are your opening hours?'], { preemptiveGeneration: false });
    expect(x.llm.requests).toHaveLength(0);
    await x.leg.caller('silence', 1000);
    await x.until(() => x.tts.texts.some((t) => t.includes('You said')), 'answer');
    expect(x.llm.requests).toHaveLength(1);
    expect(x.sink.of('turn')[0]!.preemptive).toBeUndefined();
  });
});
