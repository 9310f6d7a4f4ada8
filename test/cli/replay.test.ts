/**
 * `voice-engine replay` end to end: each committed fixture (fixtures/calls and the AMD set in fixtures/amd) is
 * streamed over a real WebSocket (Twilio protocol) into an in-process engine with the embedded offline providers
 * (pocketsphinx ASR, rules agent, offline TTS) and checked against its scenario's `expect` block. Real time: the
 * fixtures run two at a time. A wire JSONL recording replays message by message.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateDtmf } from '../../src/audio/dtmf.js';
import { linearToMulaw } from '../../src/audio/g711.js';
import { offlineAsrAvailable } from '../../src/providers/asr/offline.js';

const CALLS = path.resolve('fixtures/calls');
const AMD = path.resolve('fixtures/amd');
const tmp = mkdtempSync(path.join(os.tmpdir(), 've-replay-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The CLI command in this process; its output lines are collected, not printed. */
async function replay(args: string[]): Promise<{ code: number; out: string; report: Record<string, unknown> }> {
  const mod = await import('../../src/cli/replay.js');
  const lines: string[] = [];
  const r = await mod.replay(args, (line) => lines.push(line));
  return { code: r.code, out: lines.join('\n'), report: r.report };
}

const wavs = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.wav'))
    .map((f) => path.join(dir, f.replace(/\.wav$/, '')));
const fixtures = [...wavs(CALLS), ...wavs(AMD)];

/**
 * The fixtures whose expectations the engine meets today; every fixture replays, and these must pass. The rest are
 * the targets of open issues, with their expectations unchanged: the real-speech calls (fixtures/calls/real-*) of
 * issue 12 (barge-in stops the agent within 150 ms, acknowledgements do not stop it, no turn is ignored, a pause
 * between sentences does not end the turn, nonstop talk is cut into turns) and the answering-machine set
 * (fixtures/amd) of issue 18 (voicemail detection). Move a name here when its issue lands; never weaken a fixture.
 */
const EXPECTED_TO_PASS = new Set([
  'greeting-question',
  'order-status',
  'dtmf-menu',
  'barge-in',
  'backchannel',
  'hesitation',
  'silence-timeout',
  // issue 12: real-speech callers the offline recognizer now handles (the other real-* pass on scripted providers)
  'real-barge-in',
  'real-question',
  'real-nonstop',
  'real-acknowledgement',
  'real-hesitant',
  'real-two-sentences',
  // music on hold under the whole call: Silero confirms the WebRTC VAD's speech (settings.vad)
  'real-noisy-line',
  // issue 18: voicemail detection (answered_by) and the message <= 1 s after the beep
  'machine-beep',
  'machine-beep-noisy',
  'machine-no-beep',
  'human-hello',
  'human-hello-noisy',
  'human-long',
  'human-long-noisy',
]);
const haveAsr = await offlineAsrAvailable();
// Real time and CPU-bound (pocketsphinx decodes every call as it streams): beside the parallel suite on a 2-core
// machine the recognizer's finals arrive seconds late and turn timing is the scheduler's, not the engine's (a
// hesitant number became two turns in full runs, one turn alone). .ci/run runs this file on its own after
// `npm test` (REPLAY_TEST=1); the same fixtures run on scripted providers inside the suite (replay-scripted.test.ts).
const alone = process.env.REPLAY_TEST === '1';

describe.skipIf(!haveAsr || !alone)('replay of the call fixtures (offline providers)', () => {
  it('every fixture completes and meets its expectations; --out writes the agent audio', async () => {
    expect(fixtures.length).toBeGreaterThan(0);
    const results: Record<string, { code: number; report: Record<string, unknown> }> = {};
    const queue = [...fixtures];
    const worker = async (): Promise<void> => {
      for (let f = queue.shift(); f; f = queue.shift()) {
        const name = path.basename(f);
        const out = path.join(tmp, `${name}.agent.wav`);
        const r = await replay([`${f}.wav`, '--json', '--out', out]);
        results[name] = { code: r.code, report: r.report };
        expect(JSON.parse(r.out)).toEqual(JSON.parse(JSON.stringify(r.report)));
      }
    };
    // Sessions run inside this process; the replays overlap two at a time.
    await Promise.all([worker(), worker()]);
    const failures = (name: string) =>
      `${name}: ${JSON.stringify((results[name]!.report.expectations as { failures: string[] }).failures)}`;
    const failed = [...EXPECTED_TO_PASS].filter((n) => results[n]?.code !== 0).map(failures);
    expect(failed).toEqual([]);
    const pending = Object.keys(results).filter((n) => !EXPECTED_TO_PASS.has(n));
    for (const n of pending) {
      // Every fixture is checked (exit 1 = expectations not met, with the reasons), none crashes the replay.
      expect([0, 1], n).toContain(results[n]!.code);
      expect(results[n]!.report.expectations, n).toBeDefined();
      process.stderr.write(
        `replay ${results[n]!.code === 0 ? 'now passes (add it to EXPECTED_TO_PASS)' : 'pending'} ${failures(n)}\n`,
      );
    }
    for (const f of fixtures) {
      const wav = readFileSync(path.join(tmp, `${path.basename(f)}.agent.wav`));
      expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
      // At least a greeting; the AMD set starts silent on the agent side (the callee answers first).
      if (!f.startsWith(AMD)) expect(wav.length).toBeGreaterThan(8000);
    }
  }, 600_000);
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

  it('replays a JSONL with the assistant recorded in its header (secrets redacted at recording)', async () => {
    const { WireRecorder, parseWireRecording } = await import('../../src/call/wire-recorder.js');
    const file = path.join(tmp, 'with-assistant.jsonl');
    const rec = new WireRecorder(file, 'CAwire2', 'twilio', {
      llm: { provider: 'rules', rules: [{ dtmf: '42', reply: 'You entered four two.' }] },
      tools: {
        http: [
          {
            name: 'crm',
            description: 'CRM',
            url: 'https://crm.example/x',
            headers: { Authorization: 'Bearer s3cret' },
          },
        ],
      },
    } as never);
    const lines = readFileSync(path.join(tmp, 'call.jsonl'), 'utf8').trim().split('\n').slice(1);
    for (const l of lines) {
      const m = JSON.parse(l) as { t: number; text: string };
      rec.record(m.text, m.t);
    }
    await rec.close();
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('s3cret');
    expect(parseWireRecording(text).assistant?.llm?.provider).toBe('rules');
    // No --scenario: the in-process engine runs the recorded assistant, which answers the keyed digits.
    const r = await replay([file, '--json']);
    const report = JSON.parse(r.out.trim()) as { digits: string[]; transcript: { role: string; text: string }[] };
    expect(report.digits).toContain('42');
    expect(report.transcript.some((t) => t.role === 'assistant' && /four two/i.test(t.text))).toBe(true);
  }, 60_000);

  it('a bad file is a clear error', async () => {
    const { CliError } = await import('../../src/cli/args.js');
    const bad = path.join(tmp, 'bad.wav');
    writeFileSync(bad, 'not a wav');
    await expect(replay([bad])).rejects.toBeInstanceOf(CliError);
    await expect(replay([])).rejects.toThrow(/needs a file/);
  });
});
