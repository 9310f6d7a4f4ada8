/**
 * Deepgram Flux end to end: a whole call session (fake leg, scripted LLM and TTS) whose recognizer is the real
 * Deepgram provider on a Flux model against the loopback Deepgram fake speaking the `/v2/listen` protocol (energy
 * segmentation: its turns follow the caller's loud audio). Flux's EndOfTurn commits the turn (the session's own
 * endpointing is set to wait 5 s and never gets to), EagerEndOfTurn starts the reply unheard and TurnResumed drops
 * it, and a caller who talks over the agent cuts it off. Assertions are on the order of events (the fake's log of
 * what it sent, the session's events, what reached the LLM, the TTS and the leg), never on milliseconds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type DeepgramFake, startDeepgramFake } from '../../bench/fakes/deepgram.js';
import type { FluxEvent } from '../../bench/fakes/deepgram-ws.js';
import { lastUser } from '../../bench/scripted.js';
import type { AssistantConfig } from '../../src/assistant.js';
import { DeepgramAsr } from '../../src/providers/asr/deepgram.js';
import { harnessPerTest } from './harness.js';

const h = harnessPerTest();
let dg: DeepgramFake | undefined;
afterEach(async () => {
  await dg?.close();
  dg = undefined;
});

const echo = (m: Parameters<typeof lastUser>[0]) => [{ text: `You said ${lastUser(m)}` }];
/** The session's own endpointing waits this long after the end of speech: whatever commits sooner is Flux. */
const LOCAL_MIN_DELAY_MS = 5000;

async function fluxCall(transcripts: string[], config: AssistantConfig = {}, fake: { eotSilenceMs?: number } = {}) {
  dg = await startDeepgramFake({
    transcripts,
    segmentation: 'energy',
    fluxEagerSilenceMs: 200,
    fluxEotSilenceMs: fake.eotSilenceMs ?? 500,
  });
  const x = h({
    config: {
      ...config,
      settings: { endpointing: { minDelayMs: LOCAL_MIN_DELAY_MS, maxDelayMs: 10_000 }, ...config.settings },
    },
    asr: { script: [] },
    asrProvider: new DeepgramAsr({ apiKey: 'dg-test', baseUrl: dg.url, model: 'flux-general-en' }),
    llm: { respond: echo, firstTokenMs: 20 },
    tts: { msPerChar: 20 },
  });
  await x.session.start();
  await x.until(() => dg!.requests.some((r) => r.path === '/v2/listen'), 'flux socket');
  return x;
}

type Call = Awaited<ReturnType<typeof fluxCall>>;

/** Feed the caller's silence, 20 ms at a time, until the fake has sent `event` (bounded). */
async function silenceUntil(x: Call, event: FluxEvent['event'], count = 1): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (dg!.fluxEvents.filter((e) => e.event === event).length >= count) return;
    await x.leg.caller('silence', 20);
  }
  throw new Error(`the Flux fake never sent ${event}`);
}

/** The turn's state changes the fake sent (its Updates, every 250 ms of audio, left out). */
const events = () => dg!.fluxEvents.map((e) => e.event).filter((e) => e !== 'Update');

describe('Deepgram Flux in a call', () => {
  it('EndOfTurn commits the turn: no wait for the session endpointing', async () => {
    const x = await fluxCall(['What are your opening hours?'], { settings: { preemptiveGeneration: false } });
    await x.leg.caller('speech', 600);
    await silenceUntil(x, 'EndOfTurn');
    // No more caller audio: what commits now is the EndOfTurn already sent.
    await x.until(() => x.llm.requests.length === 1, 'the turn committed');
    expect(lastUser(x.llm.requests[0]!.messages)).toBe('What are your opening hours?');
    expect(events()).toEqual(['StartOfTurn', 'EndOfTurn']);
    // Without eager_eot_threshold (preemptive generation off) Flux sends no EagerEndOfTurn, and none was asked.
    expect(dg!.requests.find((r) => r.path === '/v2/listen')!.query.eager_eot_threshold).toBeUndefined();
    await x.until(() => x.sink.of('turn').length === 1, 'the answer played');
    expect(x.tts.texts.join(' ')).toContain('You said What are your opening hours?');
    // The session's endpointing commits no sooner than LOCAL_MIN_DELAY_MS after the end of speech; this turn was
    // committed before that: by the recognizer's EndOfTurn (not a speed claim: which mechanism committed).
    const turn = x.sink.of('turn')[0]!;
    expect(turn.endpointingMs).toBeLessThan(LOCAL_MIN_DELAY_MS);
    expect(x.session.transcript.filter((t) => t.role === 'user').map((t) => t.text)).toEqual([
      'What are your opening hours?',
    ]);
  });

  it('EagerEndOfTurn starts the reply unheard; TurnResumed drops it; the answer is to the whole turn', async () => {
    const x = await fluxCall(
      ['The number you dialed is not in service.', 'Please check it.'],
      {},
      { eotSilenceMs: 900 },
    );
    await x.leg.caller('speech', 600);
    await silenceUntil(x, 'EagerEndOfTurn');
    // The reply is being prepared on the eager words, nothing committed, nothing spoken.
    await x.until(
      () => x.llm.requests.some((r) => lastUser(r.messages) === 'The number you dialed is not in service.'),
      'a reply prepared on the EagerEndOfTurn words',
    );
    expect(x.tts.texts).toEqual([]);
    expect(x.sink.of('turn')).toEqual([]);
    // The caller goes on: TurnResumed, then the second sentence, then the end of the turn.
    await x.leg.caller('speech', 600);
    await silenceUntil(x, 'EndOfTurn');
    await x.until(() => x.sink.of('turn').length === 1, 'the answer played');
    expect(events()).toEqual(['StartOfTurn', 'EagerEndOfTurn', 'TurnResumed', 'EagerEndOfTurn', 'EndOfTurn']);
    const whole = 'The number you dialed is not in service. Please check it.';
    // The reply prepared on the first sentence was never synthesized: one reply, to the whole turn.
    const spoken = x.tts.texts.join(' ');
    expect(spoken.match(/You said/g)).toHaveLength(1);
    expect(spoken).toContain(`You said ${whole}`);
    expect(x.session.transcript.filter((t) => t.role === 'user').map((t) => t.text)).toEqual([whole]);
    // One LLM request per EagerEndOfTurn, none on the running words at the caller's pauses (Flux's EagerEndOfTurn
    // is the signal); the one on the whole turn was adopted at the EndOfTurn.
    expect(x.llm.requests.map((r) => lastUser(r.messages))).toEqual([
      'The number you dialed is not in service.',
      whole,
    ]);
    expect(x.sink.of('turn')[0]).toMatchObject({ turn: 1, preemptive: true });
  });

  it('a caller who talks over the agent cuts it off; the Flux turn is answered', async () => {
    const x = await fluxCall(['Actually I need to change my booking to Friday.'], {
      firstMessage: 'Welcome to the Grand Hotel booking line, how may I help you with your reservation today?',
    });
    await x.until(() => x.session.state === 'greeting' && x.leg.playedSamples > 0, 'greeting playing');
    await x.leg.caller('speech', 900);
    // Paused at once by the caller's speech, cut for good by their words.
    await x.until(() => x.leg.count('clear') > 0, 'agent audio cleared');
    expect(x.sink.of('state').some((s) => s.paused === true)).toBe(true);
    await silenceUntil(x, 'EndOfTurn');
    await x.until(() => x.tts.texts.some((t) => t.includes('You said')), 'answer');
    expect(x.tts.texts.find((t) => t.includes('You said'))).toContain(
      'Actually I need to change my booking to Friday.',
    );
    expect(x.session.transcript.filter((t) => t.role === 'user').map((t) => t.text)).toEqual([
      'Actually I need to change my booking to Friday.',
    ]);
    // The greeting is kept in the history only as far as the caller heard it.
    const greeting = x.session.transcript.find((t) => t.role === 'assistant')!;
    expect(greeting.text.length).toBeLessThan(
      'Welcome to the Grand Hotel booking line, how may I help you with your reservation today?'.length,
    );
    expect(x.ended).toEqual([]);
  });
});
