/**
 * `voice-engine bench noise [--json]`: false barge-ins on noisy lines: WebRTC VAD alone, with RNNoise before it
 * (settings.noiseSuppression), and confirmed by Silero VAD (settings.vad 'silero', the default). Every real-speech fixture (fixtures/calls/real-*: one real human speaker, line noise)
 * is played with music-on-hold under the whole call at 10 dB SNR (real-noisy-line has it recorded in; the others
 * get Debian's asterisk-moh-opsound-wav track mixed in here at -30 dBFS against the speech's -20 dBFS), frame by
 * frame through what a call runs before the turn-taking policy: [RNNoise] -> WebRTC VAD (the engine's default) ->
 * TurnTaking, with the agent talking the whole time. Counted per fixture:
 *  - false_pauses: the agent's audio stopped for caller "speech" that starts outside every labelled caller utterance
 *    (music, noise); each is a gap the caller hears in the agent's speech;
 *  - false_barge_ins: the agent cut off for good by such "speech" (no words here: the VAD rule, sustained speech);
 *  - caught: labelled caller utterances that did pause the agent (what suppression must not lose).
 * No ASR: the counts are the same on any machine. Silero's cost is timed (noisy on a shared machine): milliseconds
 * per inference, and its CPU per minute of call audio with the share of the audio it ran over.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { moh } from '../fixtures/lib/sounds.js';
import { fromInt16, mixInto, setRmsDbfs, toInt16 } from '../fixtures/lib/synth.js';
import { createConfirmedVad } from '../src/audio/confirmed-vad.js';
import { createDenoiser } from '../src/audio/denoise.js';
import { createSileroStream, sileroStats } from '../src/audio/silero.js';
import { createVad } from '../src/audio/vad.js';
import { readWav } from '../src/audio/wav.js';
import { TurnTaking, turnTakingConfig } from '../src/call/turn-taking.js';
import type { BenchContext } from '../src/cli/bench.js';

const FRAME = 160;
const SPEECH_DBFS = -20;
const SNR_DB = 10;
/** A pause this soon before or after a labelled utterance is that utterance (VAD onset, the speaker's breath). */
const SLACK_MS = 300;

interface Fixture {
  name: string;
  events: { type: string; startMs: number; endMs: number }[];
  lineNoise?: { music?: unknown };
}

interface Counts {
  false_pauses: number;
  false_barge_ins: number;
  caught: number;
  utterances: number;
}

/** fixtures/calls from bench/ or dist/bench/ (the package root holds fixtures/). */
function fixturesDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const p = path.join(dir, 'fixtures', 'calls');
    if (existsSync(path.join(p, 'real-noisy-line.json'))) return p;
    dir = path.dirname(dir);
  }
  throw new Error('real-speech fixtures not found (fixtures/calls/real-*.json)');
}

async function load(name: string): Promise<{ spec: Fixture; pcm: Int16Array }> {
  const dir = fixturesDir();
  const spec = JSON.parse(await readFile(path.join(dir, `${name}.json`), 'utf8')) as Fixture;
  const wav = readWav(await readFile(path.join(dir, `${name}.wav`)));
  let pcm = wav.samples;
  if (!spec.lineNoise?.music) {
    const x = fromInt16(pcm);
    mixInto(x, setRmsDbfs(moh('macroform-cold_day.wav', 20_000, wav.durationMs), SPEECH_DBFS - SNR_DB), 0);
    pcm = toInt16(x);
  }
  return { spec, pcm };
}

type Mode = 'webrtc' | 'rnnoise' | 'silero';

/** Silero's run over all fixtures: inferences, their time, and the audio it ran over. */
const silero = { inferMs: 0, inferences: 0, checkedMs: 0, audioMs: 0 };

/**
 * One Silero inference (a 32 ms chunk at 8 kHz), timed one by one over 30 s of music-on-hold: p50 and p99, ms. A
 * chunk's time is how long it holds the event loop (the wasm runs on it); spikes on a loaded machine are the
 * scheduler's (a plain JS loop of the same length shows the same).
 */
async function inferenceTimes(): Promise<{ p50: number; p99: number }> {
  const s = await createSileroStream(8000);
  const pcm = toInt16(moh('macroform-cold_day.wav', 60_000, 30_000));
  const t: number[] = [];
  s.start(0);
  for (let i = 0; i + s.chunk <= pcm.length; i += s.chunk) {
    const t0 = performance.now();
    s.push(pcm.subarray(i, i + s.chunk));
    await s.settled();
    t.push(performance.now() - t0);
  }
  s.close();
  t.sort((a, b) => a - b);
  const q = (p: number) => Math.round(t[Math.floor(p * (t.length - 1))]! * 1000) / 1000;
  return { p50: q(0.5), p99: q(0.99) };
}

/** Silero's share of the audio and CPU on the recordings as they are (no music added): a call on a quiet line. */
async function cleanCost(names: readonly string[]): Promise<{ checkedMs: number; audioMs: number; inferMs: number }> {
  const r = { checkedMs: 0, audioMs: 0, inferMs: 0 };
  for (const name of names) {
    if (name === 'real-noisy-line') continue;
    const pcm = readWav(await readFile(path.join(fixturesDir(), `${name}.wav`))).samples;
    const v = await createConfirmedVad(8000);
    const before = sileroStats.ms;
    for (let i = 0; i + FRAME <= pcm.length; i += FRAME) {
      v.process(pcm.subarray(i, i + FRAME));
      await v.settled();
    }
    r.inferMs += sileroStats.ms - before;
    r.checkedMs += v.checkedMs;
    r.audioMs += (pcm.length / 8000) * 1000;
    v.close();
  }
  return r;
}

async function measure(pcm: Int16Array, spec: Fixture, mode: Mode): Promise<Counts> {
  const speech = spec.events.filter((e) => e.type === 'speech');
  const confirmed = mode === 'silero' ? await createConfirmedVad(8000) : undefined;
  const vad = confirmed ?? (await createVad({ sampleRate: 8000 }));
  const dn = mode === 'rnnoise' ? await createDenoiser(8000) : undefined;
  const before = { ...sileroStats };
  const counts: Counts = { false_pauses: 0, false_barge_ins: 0, caught: 0, utterances: speech.length };
  const caught = new Set<number>();
  let onset = 0;
  let cut = false;
  const which = (at: number) => speech.findIndex((e) => at >= e.startMs - SLACK_MS && at <= e.endMs + SLACK_MS);
  const tt = new TurnTaking(turnTakingConfig({}), (d) => {
    if (d.type === 'speech_start') onset = d.atMs;
    else if (d.type === 'speech_end' && cut) {
      // The agent answers once the "turn" is over, and talks again: noise may cut it again from here.
      cut = false;
      tt.agent('speaking', d.atMs);
    } else if (d.type === 'pause') {
      const i = which(onset);
      if (i < 0) counts.false_pauses++;
      else caught.add(i);
    } else if (d.type === 'barge_in') {
      if (which(onset) < 0) counts.false_barge_ins++;
      cut = true;
      tt.agent('quiet', 0);
    }
  });
  tt.agent('speaking', 0);
  for (let i = 0; i + FRAME <= pcm.length; i += FRAME) {
    const frame = pcm.subarray(i, i + FRAME);
    const clean = dn ? dn.process(frame) : frame;
    const at = (i / FRAME) * 20;
    tt.frame(at, 20, vad.process(clean));
    // Silero answers asynchronously (within the next frame in a call): wait for it, so the counts are exact.
    if (confirmed) await confirmed.settled();
    const dl = tt.deadline;
    if (dl !== undefined && dl <= at + 20) tt.tick(at + 20);
  }
  if (confirmed) {
    silero.inferences += sileroStats.inferences - before.inferences;
    silero.inferMs += sileroStats.ms - before.ms;
    silero.checkedMs += confirmed.checkedMs;
    silero.audioMs += (pcm.length / 8000) * 1000;
  }
  vad.close?.();
  dn?.close();
  counts.caught = caught.size;
  return counts;
}

const sum = (rows: Counts[]): Counts =>
  rows.reduce(
    (a, r) => ({
      false_pauses: a.false_pauses + r.false_pauses,
      false_barge_ins: a.false_barge_ins + r.false_barge_ins,
      caught: a.caught + r.caught,
      utterances: a.utterances + r.utterances,
    }),
    { false_pauses: 0, false_barge_ins: 0, caught: 0, utterances: 0 },
  );

export async function run(ctx: BenchContext) {
  const names = [
    'real-noisy-line',
    'real-question',
    'real-barge-in',
    'real-acknowledgement',
    'real-hesitant',
    'real-two-sentences',
    'real-nonstop',
  ];
  const fixtures: { name: string; without: Counts; with: Counts; silero: Counts }[] = [];
  for (const name of names) {
    ctx.progress(`noise: ${name}`);
    const { spec, pcm } = await load(name);
    fixtures.push({
      name,
      without: await measure(pcm, spec, 'webrtc'),
      with: await measure(pcm, spec, 'rnnoise'),
      silero: await measure(pcm, spec, 'silero'),
    });
  }
  const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
  const quiet = await cleanCost(names);
  const per = await inferenceTimes();
  return {
    suite: 'noise',
    line: `music-on-hold at ${SNR_DB} dB SNR under real speech (fixtures/calls/real-*), agent talking`,
    without_suppression: sum(fixtures.map((f) => f.without)),
    with_rnnoise: sum(fixtures.map((f) => f.with)),
    silero_confirmed: sum(fixtures.map((f) => f.silero)),
    silero_cost: {
      inferences: silero.inferences,
      ms_per_inference_p50: per.p50,
      ms_per_inference_p99: per.p99,
      /** CPU per minute of call audio, ms (music under the whole call: Silero runs for most of it). */
      cpu_ms_per_call_minute: round((silero.inferMs / Math.max(1, silero.audioMs)) * 60_000, 1),
      share_of_audio_checked: round(silero.checkedMs / Math.max(1, silero.audioMs)),
      /** The same recordings without the music (a quiet line): Silero runs only around the caller's speech. */
      quiet_line_cpu_ms_per_call_minute: round((quiet.inferMs / Math.max(1, quiet.audioMs)) * 60_000, 1),
      quiet_line_share_of_audio_checked: round(quiet.checkedMs / Math.max(1, quiet.audioMs)),
    },
    fixtures,
  };
}

export function table(r: Record<string, unknown>): string[][] {
  const a = r.without_suppression as Counts;
  const b = r.with_rnnoise as Counts;
  const c = r.silero_confirmed as Counts;
  const cost = r.silero_cost as Record<string, number>;
  const row = (k: string, c: Counts) => [
    k,
    String(c.false_pauses),
    String(c.false_barge_ins),
    `${c.caught}/${c.utterances}`,
  ];
  return [
    ['', 'false pauses', 'false barge-ins', 'utterances caught'],
    row('WebRTC alone', a),
    row('RNNoise + WebRTC', b),
    row('WebRTC + Silero', c),
    [
      'Silero cost',
      `${cost.ms_per_inference_p50} ms/inference p50 (p99 ${cost.ms_per_inference_p99})`,
      `${cost.cpu_ms_per_call_minute} ms CPU per call minute`,
      `ran over ${Math.round(cost.share_of_audio_checked * 100)} % of the audio`,
    ],
    [
      'Silero, quiet line',
      '',
      `${cost.quiet_line_cpu_ms_per_call_minute} ms CPU per call minute`,
      `ran over ${Math.round(cost.quiet_line_share_of_audio_checked * 100)} % of the audio`,
    ],
  ];
}
