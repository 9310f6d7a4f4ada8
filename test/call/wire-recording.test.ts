/**
 * Opt-in wire recording through the REAL gateway: every inbound message of a Twilio call, including `connected`
 * and `start` that arrive before the session exists, lands in DATA_DIR/wire/<callId>.jsonl with its arrival time,
 * and `voice-engine replay` plays that file back against an engine.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ScriptedAsr, ScriptedLlm, ScriptedTts, scriptedRegistry } from '../../bench/scripted.js';
import { type LocalEngine, startLocalEngine } from '../../src/call/local-engine.js';
import { PhoneSim } from '../../src/call/phone-sim.js';
import { energyVadFactory } from '../../src/call/vad.js';
import { replay } from '../../src/cli/replay.js';
import { silentLogger } from '../../src/log.js';
import { assistant } from './harness.js';

let engines: LocalEngine[] = [];
let dirs: string[] = [];
afterEach(async () => {
  for (const e of engines) await e.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  engines = [];
  dirs = [];
});

async function engineWith(recordWire: boolean): Promise<{ engine: LocalEngine }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 've-wire-'));
  dirs.push(dataDir);
  const engine = await startLocalEngine({
    assistant: assistant({
      firstMessage: 'Hello.',
      settings: { recordWire, recordAudio: false },
      dtmf: { menu: { '9': { reply: 'Bye.', hangup: true } } },
    }),
    providers: scriptedRegistry({
      asr: new ScriptedAsr({ script: [] }),
      llm: new ScriptedLlm({ respond: () => [{ text: 'Okay.' }] }),
      tts: new ScriptedTts({ msPerChar: 5 }),
    }),
    logger: silentLogger,
    dataDir,
    deps: { createVad: energyVadFactory },
  });
  engines.push(engine);
  return { engine };
}

async function call(engine: LocalEngine): Promise<void> {
  const ended = engine.nextEnded();
  const sim = await PhoneSim.connect({ url: engine.url('twilio'), protocol: 'twilio', callId: 'CA-wire-test' });
  const silence = new Uint8Array(160).fill(0xff);
  for (let i = 0; i < 10; i++) {
    sim.sendFrame(silence);
    await new Promise((r) => setTimeout(r, 20));
  }
  sim.sendDtmf('9');
  await ended;
  await sim.whenClosed;
}

describe('wire recording', () => {
  it('records every inbound message from `connected` on, and replay accepts the file', async () => {
    const { engine } = await engineWith(true);
    await call(engine);
    const summary = engine.calls[0]!.summary!;
    expect(summary.wirePath).toBeTruthy();
    const lines = readFileSync(summary.wirePath!, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ wire: 1, protocol: 'twilio' });
    const events = lines.slice(1).map((l) => JSON.parse(l.text as string).event as string);
    expect(events.slice(0, 2)).toEqual(['connected', 'start']);
    expect(events.filter((e) => e === 'media').length).toBe(10);
    expect(events).toContain('dtmf');
    // Arrival times are monotonic ms from the first message.
    const times = lines.slice(1).map((l) => l.t as number);
    expect(times[0]).toBe(0);
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);

    // Replayed against a fresh engine, the recorded call does the same thing: the DTMF 9 menu hangs up.
    const { engine: second } = await engineWith(false);
    const ended = second.nextEnded();
    const result = await replay([summary.wirePath!, '--url', second.url('twilio'), '--json'], () => {});
    expect(result.code).toBe(0);
    const replayed = await ended;
    expect(replayed.summary!.digits).toContain('9');
    expect(replayed.summary!.endReason).toBe(summary.endReason);
  });

  it('records nothing when the assistant does not opt in', async () => {
    const { engine } = await engineWith(false);
    await call(engine);
    expect(engine.calls[0]!.summary!.wirePath).toBeUndefined();
  });
});
