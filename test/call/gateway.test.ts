/**
 * The call session behind the REAL WebSocket gateway: Twilio (JSON/base64 mu-law) and native (binary PCM16), with
 * scripted providers. The simulated phone echoes marks after playout and honours clear, as the platforms do.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lastUser, ScriptedAsr, ScriptedLlm, ScriptedTts, scriptedRegistry } from '../../bench/scripted.js';
import type { AssistantConfig } from '../../src/assistant.js';
import { type LocalEngine, startLocalEngine } from '../../src/call/local-engine.js';
import { PhoneSim, type SimProtocol } from '../../src/call/phone-sim.js';
import { energyVadFactory } from '../../src/call/vad.js';
import { silentLogger } from '../../src/log.js';
import { fillFrame } from './fake-leg.js';
import { assistant } from './harness.js';

let engines: LocalEngine[] = [];
let dirs: string[] = [];
afterEach(async () => {
  for (const e of engines) await e.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  engines = [];
  dirs = [];
});

const story =
  'Once upon a time there was a small village by the sea. Every morning the fishermen went out in their boats. One day a storm came.';

async function setup(config: AssistantConfig, script: string[]) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 've-gw-'));
  dirs.push(dataDir);
  const asr = new ScriptedAsr({ script });
  const llm = new ScriptedLlm({
    respond: (m) => {
      const u = lastUser(m);
      if (u.startsWith('DTMF:')) return [{ text: `You entered ${u.slice(6)}.` }];
      if (u.includes('story')) return [{ text: story }];
      return [{ text: `You said ${u}.` }];
    },
    firstTokenMs: 20,
  });
  const tts = new ScriptedTts({ msPerChar: 20 });
  const engine = await startLocalEngine({
    assistant: assistant(config),
    providers: scriptedRegistry({ asr, llm, tts }),
    logger: silentLogger,
    dataDir,
    deps: { createVad: energyVadFactory },
  });
  engines.push(engine);
  return { engine, asr, llm, tts };
}

async function talk(sim: PhoneSim, kind: 'speech' | 'silence', ms: number): Promise<void> {
  const frame = new Uint8Array(160);
  const start = performance.now();
  for (let i = 0; i < ms / 20; i++) {
    fillFrame(frame, kind === 'speech');
    sim.sendFrame(frame);
    const wait = start + (i + 1) * 20 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

async function until(cond: () => boolean, what: string, maxMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > maxMs) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const protocol of ['twilio', 'native'] as SimProtocol[]) {
  describe(`session over the ${protocol} gateway`, () => {
    it('greeting, question -> answer, barge-in with clear on the wire and the history cut to what was heard', async () => {
      const { engine, llm } = await setup(
        { firstMessage: 'Hello, how can I help?', settings: { bargeInMinSpeechMs: 100 } },
        ['tell me a story', 'thanks stop'],
      );
      const sim = await PhoneSim.connect({ url: engine.url(protocol), protocol, customParameters: { lead: '7' } });
      await until(() => engine.calls[0]?.session.state === 'listening', 'greeting heard');
      expect(sim.firstAgentAudioAt).toBeGreaterThanOrEqual(0);
      // Marks were echoed after playout (the greeting finished because its end mark came back).
      expect(sim.events.some((e) => e.type === 'mark' && e.echoedAt !== undefined)).toBe(true);
      await talk(sim, 'speech', 500);
      await talk(sim, 'silence', 300);
      const call = engine.calls[0]!;
      await until(() => call.session.state === 'agent_speaking', 'agent answers');
      await talk(sim, 'silence', 1000);
      await talk(sim, 'speech', 400);
      await until(() => sim.events.some((e) => e.type === 'clear'), 'clear on the wire');
      await talk(sim, 'silence', 400);
      await until(() => llm.requests.length >= 2, 'second turn');
      const heard = call.session.history.find((m) => m.role === 'assistant' && m.content !== 'Hello, how can I help?');
      expect(heard?.role).toBe('assistant');
      const text = (heard as { content: string }).content;
      expect(text.length).toBeGreaterThan(0);
      expect(text.length).toBeLessThan(story.length);
      expect(story.startsWith(text)).toBe(true);
      expect(lastUser(llm.requests[1]!.messages)).toBe('thanks stop');
      await sim.stop();
      const ended = await engine.nextEnded();
      expect(ended.summary?.endReason).toBeDefined();
      expect(ended.record.status).toBe('completed');
      if (protocol === 'native') {
        expect(
          sim.events.some((e) => e.type === 'transcript' && e.role === 'user' && e.text === 'tell me a story'),
        ).toBe(true);
        expect(sim.events.some((e) => e.type === 'metrics')).toBe(true);
      }
    });

    it('DTMF digits over the wire reach the LLM; end_call hangs up after the goodbye', async () => {
      const { engine, llm } = await setup(
        { llm: {}, dtmf: { menu: { '9': { reply: 'Goodbye.', hangup: true } } } },
        [],
      );
      const sim = await PhoneSim.connect({ url: engine.url(protocol), protocol });
      await talk(sim, 'silence', 100);
      for (const d of '42#') sim.sendDtmf(d);
      await until(() => llm.requests.length === 1, 'llm got the digits');
      expect(lastUser(llm.requests[0]!.messages)).toBe('DTMF: 42');
      await until(() => engine.calls[0]!.session.state === 'listening', 'answer played');
      sim.sendDtmf('9');
      const closed = await sim.whenClosed;
      expect(closed.code).toBe(4000);
      const ended = await engine.nextEnded();
      expect(ended.summary?.endReason).toBe('dtmf_menu');
      expect(ended.summary?.digits).toEqual(['42', '9']);
    });
  });
}

describe('transfer over the native protocol', () => {
  it('sends the transfer message with the target', async () => {
    const { engine } = await setup({ dtmf: { menu: { '0': { transferTo: '+15550001111' } } } }, []);
    const sim = await PhoneSim.connect({ url: engine.url('native'), protocol: 'native' });
    await talk(sim, 'silence', 100);
    sim.sendDtmf('0');
    await sim.whenClosed;
    expect(sim.events.find((e) => e.type === 'transfer')).toMatchObject({ target: '+15550001111', mode: 'cold' });
    const ended = await engine.nextEnded();
    expect(ended.summary?.endReason).toBe('transferred');
  });
});
