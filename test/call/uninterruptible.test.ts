import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { lastToolResult, lastUser } from '../../bench/scripted.js';
import { clearGreetingCache } from '../../src/call/greeting.js';
import { harnessPerTest } from './harness.js';

let cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups) await c();
  cleanups = [];
  clearGreetingCache();
});
const h = harnessPerTest();

const DISCLOSURE = 'This call is recorded for quality and training purposes and may be monitored by our staff.';

describe('uninterruptible speech', () => {
  it('a first message marked uninterruptible plays to its end over the caller; the question is answered after', async () => {
    const x = h({
      config: {
        firstMessage: DISCLOSURE,
        settings: { bargeInMinSpeechMs: 100, interruption: { firstMessageUninterruptible: true } },
      },
      asr: { script: ['what are your opening hours'] },
      llm: { respond: (m) => [{ text: `About ${lastUser(m)}: nine to five.` }], firstTokenMs: 20 },
      tts: { msPerChar: 30 },
    });
    await x.session.start();
    await x.until(() => x.session.state === 'greeting' && x.leg.count('play') > 0, 'greeting playing');
    // A whole question over the greeting (it lasts ~2.7 s).
    await x.leg.caller('speech', 700);
    await x.leg.caller('silence', 600);
    await x.until(
      () => x.session.transcript.some((t) => t.role === 'assistant' && t.text.includes('nine to five')),
      'question answered',
    );
    // Never cut: no clear, no barge-in, the greeting whole in the history, then the caller's turn.
    expect(x.leg.count('clear')).toBe(0);
    expect(x.sink.of('state').some((s) => s.reason === 'barge_in' || s.paused)).toBe(false);
    expect(x.session.history[0]).toEqual({ role: 'assistant', content: DISCLOSURE });
    expect(x.session.history[1]).toEqual({ role: 'user', content: 'what are your opening hours' });
    expect(x.session.transcript.find((t) => t.role === 'assistant')?.interrupted).toBeUndefined();
  });

  it("a tool's say (uninterruptible) is heard whole; caller speech during it is kept and answered after", async () => {
    const server: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/consent`;
    const x = h({
      config: {
        settings: { bargeInMinSpeechMs: 100, fillerAfterMs: 0 },
        tools: {
          http: [
            {
              type: 'http',
              name: 'start_recording',
              description: 'Start recording the call',
              url,
              say: { text: DISCLOSURE },
            },
          ],
        },
      },
      asr: { script: ['please record this call', 'sure go ahead'] },
      llm: {
        respond: (m) => {
          if (lastUser(m) === 'sure go ahead') return [{ text: 'Thank you.' }];
          if (lastToolResult(m)) return [{ text: 'Recording has started.' }];
          return [{ tool: 'start_recording', args: {} }];
        },
        firstTokenMs: 20,
      },
      tts: { msPerChar: 30 },
    });
    await x.session.start();
    await x.leg.caller('speech', 500);
    await x.leg.caller('silence', 400);
    await x.until(() => x.tts.texts.includes(DISCLOSURE), 'disclosure synthesized');
    await x.until(() => x.leg.count('play') > 0 && x.session.state === 'agent_speaking', 'disclosure playing');
    await x.leg.caller('speech', 600);
    await x.leg.caller('silence', 600);
    await x.until(
      () => x.session.transcript.some((t) => t.role === 'assistant' && t.text === 'Thank you.'),
      'answered',
    );
    expect(x.leg.count('clear')).toBe(0);
    const said = x.session.transcript.filter((t) => t.role === 'assistant').map((t) => t.text);
    expect(said).toEqual([DISCLOSURE, 'Recording has started.', 'Thank you.']);
    expect(said.some((t, i) => i < 2 && t === 'Thank you.')).toBe(false);
    // The disclosure is heard, not in the LLM history between the tool call and its result.
    expect(x.session.history.some((m) => m.role === 'assistant' && m.content === DISCLOSURE)).toBe(false);
  });
});
