/**
 * `voice-engine replay` end to end: each committed fixture is streamed over a real WebSocket (Twilio protocol) into
 * an in-process engine with the embedded offline providers (pocketsphinx ASR, rules agent, offline TTS), and must
 * meet its scenario's `expect` block. Real time: the fixtures run three at a time. A wire JSONL recording replays
 * message by message.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateDtmf } from '../../src/audio/dtmf.js';
import { linearToMulaw } from '../../src/audio/g711.js';
import { offlineAsrAvailable } from '../../src/providers/asr/offline.js';

const CALLS = path.resolve('fixtures/calls');
const tmp = mkdtempSync(path.join(os.tmpdir(), 've-replay-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The CLI command in this process; its output lines are collected, not printed. */
async function replay(args: string[]): Promise<{ code: number; out: string; report: Record<string, unknown> }> {
  const mod = await import('../../src/cli/replay.js');
  const lines: string[] = [];
  const r = await mod.replay(args, (line) => lines.push(line));
  return { code: r.code, out: lines.join('\n'), report: r.report };
}

const fixtures = readdirSync(CALLS)
  .filter((f) => f.endsWith('.wav'))
  .map((f) => f.replace(/\.wav$/, ''));
const haveAsr = await offlineAsrAvailable();

describe.skipIf(!haveAsr)('replay of the call fixtures (offline providers)', () => {
  it('every fixture completes and meets its expectations; --out writes the agent audio', async () => {
    expect(fixtures.length).toBeGreaterThan(0);
    const results: Record<string, { code: number; report: Record<string, unknown> }> = {};
    const queue = [...fixtures];
    const worker = async (): Promise<void> => {
      for (let f = queue.shift(); f; f = queue.shift()) {
        const out = path.join(tmp, `${f}.agent.wav`);
        const r = await replay([path.join(CALLS, `${f}.wav`), '--json', '--out', out]);
        results[f] = { code: r.code, report: r.report };
        expect(JSON.parse(r.out)).toEqual(JSON.parse(JSON.stringify(r.report)));
      }
    };
    // Sessions run inside this process; the replays overlap two at a time.
    await Promise.all([worker(), worker()]);
    const failed = Object.entries(results)
      .filter(([, r]) => r.code !== 0)
      .map(([f, r]) => `${f}: ${JSON.stringify((r.report.expectations as { failures: string[] }).failures)}`);
    expect(failed).toEqual([]);
    for (const f of fixtures) {
      const wav = readFileSync(path.join(tmp, `${f}.agent.wav`));
      expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
      expect(wav.length).toBeGreaterThan(8000); // at least the greeting
    }
  }, 240_000);
});

describe.skipIf(!haveAsr)('replay of a wire recording', () => {
  it('replays a Twilio JSONL recording with its timing and checks the scenario', async () => {
    const lines: string[] = [JSON.stringify({ wire: 1, protocol: 'twilio', callId: 'CAwire' })];
    const sid = 'MZwire';
    let t = 0;
    let seq = 0;
    const push = (o: unknown): void => {
      lines.push(JSON.stringify({ t, text: JSON.stringify(o) }));
    };
    push({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    push({
      event: 'start',
      sequenceNumber: String(++seq),
      streamSid: sid,
      start: {
        streamSid: sid,
        callSid: 'CAwire',
        tracks: ['inbound'],
        customParameters: {},
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
    const silence = Buffer.alloc(160, 0xff).toString('base64');
    const frame = (payload: string): void => {
      push({
        event: 'media',
        sequenceNumber: String(++seq),
        streamSid: sid,
        media: { track: 'inbound', chunk: String(seq), timestamp: String(t), payload },
      });
      t += 20;
    };
    for (let i = 0; i < 50; i++) frame(silence);
    // Keys as the platform reports them (events), with their tones in the audio as a real line carries them.
    for (const d of ['4', '2', '#']) {
      const tone = generateDtmf(d, { toneMs: 100, gapMs: 0 });
      for (let off = 0; off + 160 <= tone.length; off += 160) {
        frame(Buffer.from(Array.from(tone.subarray(off, off + 160), (s) => linearToMulaw(s))).toString('base64'));
      }
      push({
        event: 'dtmf',
        sequenceNumber: String(++seq),
        streamSid: sid,
        dtmf: { track: 'inbound_track', digit: d },
      });
      for (let i = 0; i < 5; i++) frame(silence);
    }
    for (let i = 0; i < 150; i++) frame(silence);
    push({ event: 'stop', sequenceNumber: String(++seq), streamSid: sid, stop: { callSid: 'CAwire' } });
    const file = path.join(tmp, 'call.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const scenario = path.join(tmp, 'digits.json');
    writeFileSync(
      scenario,
      JSON.stringify({
        assistant: { llm: { provider: 'rules', rules: [{ dtmf: '42', reply: 'You entered four two.' }] } },
        expect: { digits: '42', agentSays: ['four two'], hangup: 'caller' },
      }),
    );
    const r = await replay([file, '--scenario', scenario, '--json']);
    const report = JSON.parse(r.out.trim());
    expect(report.expectations).toMatchObject({ ok: true });
    expect(r.code).toBe(0);
    expect(report.protocol).toBe('twilio');
  }, 60_000);

  it('a bad file is a clear error', async () => {
    const { CliError } = await import('../../src/cli/args.js');
    const bad = path.join(tmp, 'bad.wav');
    writeFileSync(bad, 'not a wav');
    await expect(replay([bad])).rejects.toBeInstanceOf(CliError);
    await expect(replay([])).rejects.toThrow(/needs a file/);
  });
});
