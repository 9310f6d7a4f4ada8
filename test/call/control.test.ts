import { describe, expect, it } from 'vitest';
import { lastToolResult, lastUser } from '../../bench/scripted.js';
import type { LlmRequest } from '../../src/providers/types.js';
import { harnessPerTest } from './harness.js';

/** LLM requests of the conversation (not the post-call summary / extraction). */
const conversational = (reqs: LlmRequest[]) =>
  reqs.filter((r) => !(r.messages[0]?.role === 'system' && /^(Summarize|Extract)/.test(r.messages[0].content)));

const h = harnessPerTest();

describe('call control', () => {
  it('DTMF menu: a menu key replies at once, another transfers', async () => {
    const x = h({
      config: {
        dtmf: {
          menu: {
            '1': { reply: 'Our address is 1 Main Street.' },
            '0': { transferTo: '+15550001111', reply: 'Connecting you to an operator.' },
          },
        },
      },
      asr: { script: [] },
      llm: { respond: () => [{ text: 'unused' }] },
      tts: { msPerChar: 3 },
    });
    await x.session.start();
    x.leg.dtmf('1');
    await x.until(() => x.session.state === 'listening' && x.tts.texts.length > 0, 'menu reply played');
    expect(x.tts.texts[0]).toBe('Our address is 1 Main Street.');
    x.leg.dtmf('0');
    const s = await x.session.done;
    expect(x.leg.out.find((e) => e.type === 'transfer')).toMatchObject({ target: '+15550001111', mode: 'cold' });
    expect(s.endReason).toBe('transferred');
    expect(s.transferredTo).toBe('+15550001111');
    expect(conversational(x.llm.requests).length).toBe(0);
    expect(s.digits).toEqual(['1', '0']);
  });

  it('DTMF digit collection: digits until # reach the LLM as "DTMF: 1234"', async () => {
    const x = h({
      config: { firstMessage: 'Please enter your account number followed by pound.' },
      asr: { script: [] },
      llm: { respond: (m) => [{ text: `Thanks, I have ${lastUser(m)}.` }], firstTokenMs: 10 },
      tts: { msPerChar: 3 },
    });
    await x.session.start();
    for (const d of '1234#') x.leg.dtmf(d);
    await x.until(() => x.llm.requests.length === 1, 'llm called');
    expect(lastUser(x.llm.requests[0]!.messages)).toBe('DTMF: 1234');
    await x.until(() => x.session.state === 'listening' && x.tts.texts.length >= 2, 'answer played');
    expect(x.tts.texts.slice(1).join(' ')).toBe('Thanks, I have DTMF: 1234.');
    // Inter-digit timeout flushes a number without a terminator.
    x.leg.dtmf('9');
    x.leg.dtmf('8');
    await x.until(() => x.llm.requests.length === 2, 'timeout flush', 6000);
    expect(lastUser(x.llm.requests[1]!.messages)).toBe('DTMF: 98');
  });

  it('end_call tool: the goodbye plays, then the leg hangs up and the record says why', async () => {
    const x = h({
      config: {},
      asr: { script: ['that is all, bye'] },
      llm: {
        respond: (m) =>
          lastToolResult(m)
            ? []
            : [{ text: 'Goodbye, have a nice day.' }, { tool: 'end_call', args: { reason: 'caller_done' } }],
        firstTokenMs: 10,
      },
      tts: { msPerChar: 3 },
    });
    await x.session.start();
    await x.leg.caller('speech', 400);
    await x.leg.caller('silence', 300);
    const s = await x.session.done;
    expect(s.endReason).toBe('caller_done');
    const kinds = x.leg.out.map((e) => e.type);
    expect(kinds.lastIndexOf('play')).toBeLessThan(kinds.indexOf('hangup'));
    expect(x.sink.of('tool')[0]).toMatchObject({ name: 'end_call', ok: true });
    expect(x.sink.record.endReason).toBe('caller_done');
    expect(x.tts.texts).toContain('Goodbye, have a nice day.');
  });

  it('hangup.redirect: when the agent hangs up, the call is transferred (cold) to the redirect target instead', async () => {
    const x = h({
      config: { hangup: { redirect: 'sip:desk@pbx.example.com' } },
      asr: { script: ['that is all, bye'] },
      llm: {
        respond: (m) =>
          lastToolResult(m) ? [] : [{ text: 'Goodbye.' }, { tool: 'end_call', args: { reason: 'caller_done' } }],
        firstTokenMs: 10,
      },
      tts: { msPerChar: 3 },
    });
    await x.session.start();
    await x.leg.caller('speech', 400);
    await x.leg.caller('silence', 300);
    const s = await x.session.done;
    expect(x.leg.out.find((e) => e.type === 'transfer')).toMatchObject({
      target: 'sip:desk@pbx.example.com',
      mode: 'cold',
    });
    expect(x.leg.out.some((e) => e.type === 'hangup')).toBe(false);
    expect(s.endReason).toBe('redirected: caller_done');
    expect(s.transferredTo).toBe('sip:desk@pbx.example.com');
  });

  it('save-conversation disabled: no recording is made', async () => {
    const run = async (enabled: boolean) => {
      const x = h({
        config: { hangup: { saveConversation: { enabled } } },
        asr: { script: ['hello'] },
        llm: { respond: () => [{ text: 'Hi.' }], firstTokenMs: 10 },
        tts: { msPerChar: 3 },
      });
      await x.session.start();
      await x.leg.caller('speech', 400);
      await x.leg.caller('silence', 300);
      x.leg.stop('caller');
      return x.session.done;
    };
    expect((await run(true)).recordingPath).toBeDefined();
    expect((await run(false)).recordingPath).toBeUndefined();
  });

  it('transfer_call tool to a configured target', async () => {
    const x = h({
      config: { hangup: { transferTargets: [{ name: 'sales', number: '+15557654321' }] } },
      asr: { script: ['I want to buy something'] },
      llm: {
        respond: (m) =>
          lastToolResult(m)
            ? []
            : [
                { text: 'Let me transfer you to sales.' },
                { tool: 'transfer_call', args: { target: 'sales', mode: 'warm' } },
              ],
        firstTokenMs: 10,
      },
      tts: { msPerChar: 3 },
    });
    await x.session.start();
    await x.leg.caller('speech', 400);
    await x.leg.caller('silence', 300);
    const s = await x.session.done;
    const t = x.leg.out.find((e) => e.type === 'transfer');
    expect(t).toMatchObject({ target: '+15557654321', mode: 'warm' });
    expect(t && t.type === 'transfer' && t.summary).toContain('I want to buy something');
    expect(s.endReason).toBe('transferred');
    expect(x.sink.states()).toContain('transferring');
  });

  it('end phrase from the caller ends the call with the goodbye message', async () => {
    const x = h({
      config: { hangup: { endPhrases: ['goodbye'], goodbyeMessage: 'Bye now.' } },
      asr: { script: ['ok goodbye'] },
      llm: { respond: () => [{ text: 'unused' }] },
      tts: { msPerChar: 3 },
    });
    await x.session.start();
    await x.leg.caller('speech', 400);
    await x.leg.caller('silence', 300);
    const s = await x.session.done;
    expect(s.endReason).toBe('end_phrase');
    expect(x.tts.texts).toEqual(['Bye now.']);
    expect(conversational(x.llm.requests).length).toBe(0);
  });

  it('silence timeout: reprompts, then goodbye and hangup', async () => {
    const x = h({
      config: { settings: { silenceTimeoutMs: 300, silenceReprompts: 1 } },
      asr: { script: [] },
      llm: { respond: () => [{ text: 'unused' }] },
      tts: { msPerChar: 2 },
    });
    await x.session.start();
    const s = await x.session.done;
    expect(s.endReason).toBe('silence_timeout');
    expect(x.tts.texts[0]).toBe('Are you still there?');
    expect(x.tts.texts.slice(1).join(' ')).toContain("I'll end the call now");
    expect(
      x.sink.of('state').filter((d) => d.state === 'agent_speaking' && d.reason === 'silence_reprompt').length,
    ).toBe(1);
    expect(x.leg.out.at(-1)?.type).toBe('hangup');
  });

  it('maximum duration ends the call', async () => {
    const x = h({
      config: { settings: { maxDurationSec: 1 } },
      asr: { script: [] },
      llm: { respond: () => [{ text: 'unused' }] },
      tts: { msPerChar: 2 },
    });
    await x.session.start();
    const s = await x.session.done;
    expect(s.endReason).toBe('max_duration');
    expect(x.tts.texts[0]).toContain('time limit');
    expect(x.sink.record).toMatchObject({ status: 'completed', endReason: 'max_duration' });
  });
});

describe('provider failures mid-call', () => {
  it('LLM failure: the caller hears an apology, the record has the incident, the next turn works', async () => {
    const x = h({
      // Request numbers count: no reply prepared before the commit (preemptive generation) may take number 1.
      config: { settings: { preemptiveGeneration: false } },
      asr: { script: ['first question', 'second question'] },
      llm: { respond: (m) => [{ text: `Answer to ${lastUser(m)}.` }], firstTokenMs: 10, failOnRequests: [1] },
      tts: { msPerChar: 3 },
    });
    await x.session.start();
    await x.leg.caller('speech', 400);
    await x.leg.caller('silence', 300);
    await x.until(() => x.session.state === 'listening' && x.tts.texts.length > 0, 'apology played');
    expect(x.tts.texts.join(' ')).toContain("I'm sorry");
    const spoken = x.tts.texts.length;
    expect(x.sink.of('incident')[0]).toMatchObject({ kind: 'llm', provider: 'scripted-llm', code: 'server' });
    await x.leg.caller('speech', 400);
    await x.leg.caller('silence', 300);
    await x.until(() => x.tts.texts.length > spoken, 'second answer');
    expect(x.tts.texts[spoken]).toBe('Answer to second question.');
  });

  it('TTS failure falls back to the next provider and the record says so', async () => {
    const x = h({
      config: {},
      asr: { script: ['hello there'] },
      llm: { respond: () => [{ text: 'Hi, how can I help?' }], firstTokenMs: 10 },
      tts: { msPerChar: 3, failOnRequests: [1] },
      ttsFallback: { msPerChar: 3 },
    });
    await x.session.start();
    await x.leg.caller('speech', 400);
    await x.leg.caller('silence', 300);
    await x.until(() => x.session.state === 'listening' && (x.ttsFallback?.texts.length ?? 0) > 0, 'fallback spoke');
    expect(x.ttsFallback!.texts[0]).toBe('Hi, how can I help?');
    expect(x.sink.of('incident')[0]).toMatchObject({
      kind: 'tts',
      provider: 'scripted-tts',
      action: 'fallback',
      code: 'server',
    });
    expect(x.leg.count('play')).toBeGreaterThan(0);
  });

  it('ASR failure: the stream is reopened once; when it fails again the caller is told to use the keypad', async () => {
    const x = h({
      config: {},
      asr: { script: ['hello', 'still there'], failAfterSegments: 0 },
      llm: { respond: (m) => [{ text: `Got ${lastUser(m)}.` }], firstTokenMs: 10 },
      tts: { msPerChar: 3 },
    });
    await x.session.start();
    await x.leg.caller('speech', 300);
    await x.leg.caller('silence', 300);
    await x.until(() => x.asr.opened === 2 && x.session.state === 'listening', 'asr reopened');
    await x.leg.caller('speech', 300);
    await x.leg.caller('silence', 300);
    await x
      .until(() => x.tts.texts.some((t) => t.includes('keypad')), 'told to use keypad')
      .catch((e) => {
        console.log(JSON.stringify(x.sink.events), x.tts.texts, x.asr.opened);
        throw e;
      });
    const incidents = x.sink.of('incident');
    expect(incidents.length).toBe(2);
    expect(incidents[0]).toMatchObject({ kind: 'asr', provider: 'scripted-asr' });
    // DTMF still works.
    x.leg.dtmf('5');
    x.leg.dtmf('#');
    await x.until(() => x.llm.requests.some((r) => lastUser(r.messages) === 'DTMF: 5'), 'dtmf reached the llm');
  });
});
