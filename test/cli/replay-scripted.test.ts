/**
 * `voice-engine replay` of every call fixture (fixtures/calls) on scripted providers: the recognizer knows what the
 * caller says and hears it as a good streaming one would (bench/fixture-asr.ts: growing interims, the words with
 * their punctuation ~150 ms after each utterance, timed on the audio it receives), the fixture's own `rules` LLM,
 * and the scripted TTS (a tone as long as the text, first byte after 200 ms). Streamed in real time over a real
 * WebSocket (Twilio protocol) into an in-process engine, each checked against its scenario's `expect` block: all of
 * them must pass. The same fixtures on the embedded offline providers: test/cli/replay.test.ts.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FixtureAsr } from '../../bench/fixture-asr.js';
import { ScriptedTts } from '../../bench/scripted.js';
import { replay } from '../../src/cli/replay.js';
import type { ScenarioLike } from '../../src/cli/replay-input.js';

const CALLS = path.resolve('fixtures/calls');
const fixtures = readdirSync(CALLS)
  .filter((f) => f.endsWith('.wav'))
  .map((f) => path.join(CALLS, f));

/** The caller's utterances of a scenario, as the recognizer is to hear them. */
function utterances(s: ScenarioLike | undefined) {
  return (s?.events ?? []).flatMap((e) =>
    e.type === 'speech' && e.text ? [{ text: e.text, startMs: e.startMs, endMs: e.endMs }] : [],
  );
}

describe('replay of the call fixtures (scripted providers)', () => {
  it('every fixture meets its expectations', async () => {
    expect(fixtures.length).toBeGreaterThan(0);
    const failures: Record<string, unknown> = {};
    const queue = [...fixtures];
    const worker = async (): Promise<void> => {
      for (let f = queue.shift(); f; f = queue.shift()) {
        const r = await replay([f, '--json'], () => undefined, {
          providers: (registry, scenario) => ({
            ...registry,
            asr: () => new FixtureAsr(utterances(scenario)),
            tts: () => new ScriptedTts({ firstByteMs: 200, msPerChar: 60 }),
          }),
        });
        if (r.code !== 0) failures[path.basename(f)] = r.report.expectations ?? r.report;
      }
    };
    // Sessions run inside this process; the replays overlap two at a time.
    await Promise.all([worker(), worker()]);
    expect(failures).toEqual({});
  }, 600_000);
});
