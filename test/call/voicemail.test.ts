/**
 * Voicemail screening in the call session (src/call/voicemail.ts): frames are fed in audio time (no pacing; the
 * detector counts audio, not the clock), the leg records what the session did. The end-to-end checks on real
 * recordings over the Twilio wire (verdicts, the message <= 1 s after the beep) are the AMD replays in
 * test/cli/replay.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { AssistantConfig } from '../../src/assistant.js';
import { linearToMulaw } from '../../src/audio/g711.js';
import { fillFrame } from './fake-leg.js';
import { harnessPerTest } from './harness.js';

const perTest = harnessPerTest();

const MESSAGE = 'Hi, this is Acme. Please call us back.';

type Voicemail = NonNullable<NonNullable<AssistantConfig['settings']>['voicemail']>;

function call(voicemail: Voicemail, o: { outbound?: boolean; params?: Record<string, string> } = {}) {
  const h = perTest({
    config: { firstMessage: 'Hello, this is Acme.', settings: { voicemail } },
    asr: { script: [] },
    llm: { respond: () => [] },
    leg: { customParameters: o.params ?? {} },
    outbound: o.outbound ?? true,
  });
  const { leg, sink, session, ended } = h;
  const frame = new Uint8Array(160);
  let phase = 0;
  const feed = (kind: 'speech' | 'silence' | 'beep', ms: number): void => {
    for (let f = 0; f < ms / 20; f++) {
      if (kind === 'beep') {
        for (let i = 0; i < 160; i++, phase++)
          frame[i] = linearToMulaw(Math.round(8000 * Math.sin((2 * Math.PI * 800 * phase) / 8000)));
      } else fillFrame(frame, kind === 'speech');
      leg.feedFrame(frame);
    }
  };
  const until = async (cond: () => boolean, what: string): Promise<void> => {
    for (let i = 0; i < 800 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
    if (!cond()) throw new Error(`timed out waiting for: ${what}`);
  };
  const started = async (): Promise<void> => {
    await session.start();
    // The VAD opens in the background (before any caller audio on a real line).
    await new Promise((r) => setTimeout(r, 20));
  };
  return { leg, sink, session, ended, feed, until, started };
}

describe('voicemail screening in the session', () => {
  it('a short answer then silence is a person: the first message plays after the verdict', async () => {
    const c = call({ detect: true, action: 'hangup' });
    await c.started();
    c.feed('silence', 400);
    c.feed('speech', 600);
    expect(c.leg.count('play')).toBe(0); // nothing said to the callee while screening
    c.feed('silence', 1000);
    expect(c.sink.record.answeredBy).toBe('human');
    expect(c.sink.record.amdMs).toBeGreaterThan(1000);
    await c.until(() => c.leg.count('play') > 0, 'first message');
    expect(c.sink.states()).toContain('greeting');
    c.leg.handler?.onStop('stop');
    const s = await c.session.done;
    expect(s.answeredBy).toBe('human');
    expect(s.amdMs).toBe(c.sink.record.amdMs);
  });

  it('a long greeting is a machine: action hangup ends the call without a word', async () => {
    const c = call({ detect: true, action: 'hangup' });
    await c.started();
    c.feed('silence', 300);
    c.feed('speech', 3500);
    const s = await c.session.done;
    expect(s).toMatchObject({ answeredBy: 'machine', endReason: 'voicemail', endedBy: 'voicemail' });
    expect(c.leg.count('play')).toBe(0);
    expect(c.leg.out.find((e) => e.type === 'hangup')).toMatchObject({ reason: 'voicemail' });
  });

  it('leave_message waits for the end of the beep, says the message, hangs up', async () => {
    const c = call({ detect: true, action: 'leave_message', message: MESSAGE });
    await c.started();
    c.feed('silence', 300);
    c.feed('speech', 3200); // machine from here on
    expect(c.sink.record.answeredBy).toBe('machine');
    c.feed('silence', 400);
    c.feed('beep', 500);
    // Let the message's synthesis ahead of time run: still nothing may play before the beep has ended.
    await new Promise((r) => setTimeout(r, 50));
    expect(c.leg.count('play')).toBe(0);
    c.feed('silence', 40);
    await c.until(() => c.leg.count('play') > 0, 'message');
    const s = await c.session.done;
    expect(s.endReason).toBe('voicemail');
    expect(s.transcript.map((t) => t.text)).toEqual([MESSAGE]);
    expect(c.sink.of('state').find((e) => e.voicemail === 'message')).toMatchObject({ cue: 'beep' });
  });

  it('leave_message with no beep: the message follows the end of the greeting', async () => {
    const c = call({ detect: true, action: 'leave_message', message: MESSAGE });
    await c.started();
    c.feed('speech', 4000);
    c.feed('silence', 1000);
    expect(c.leg.count('play')).toBe(0);
    c.feed('silence', 600);
    const s = await c.session.done;
    expect(s.transcript.map((t) => t.text)).toEqual([MESSAGE]);
    expect(c.sink.of('state').find((e) => e.voicemail === 'message')).toMatchObject({ cue: 'silence' });
  });

  it("the carrier's verdict on the stream wins (Twilio AnsweredBy)", async () => {
    const c = call({ detect: true, action: 'hangup' }, { params: { AnsweredBy: 'machine_start' } });
    await c.started();
    const s = await c.session.done;
    expect(s).toMatchObject({ answeredBy: 'machine', amdMs: 0, endReason: 'voicemail' });
  });

  it('inbound streams are screened only when they opt in (amd=true); detect false never screens', async () => {
    const plain = call({ detect: true, action: 'hangup' }, { outbound: false });
    await plain.started();
    await plain.until(() => plain.leg.count('play') > 0, 'greeting at once');
    expect(plain.sink.record.answeredBy).toBeUndefined();
    plain.leg.handler?.onStop('stop');
    expect((await plain.session.done).answeredBy).toBeUndefined();

    const off = call({ detect: false, action: 'hangup' });
    await off.started();
    await off.until(() => off.leg.count('play') > 0, 'greeting at once');
    off.leg.handler?.onStop('stop');
    await off.session.done;

    const optIn = call({ detect: true, action: 'hangup' }, { outbound: false, params: { amd: 'true' } });
    await optIn.started();
    optIn.feed('speech', 3500);
    expect((await optIn.session.done).answeredBy).toBe('machine');
  });
});
