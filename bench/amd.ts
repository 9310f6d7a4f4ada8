/**
 * `voice-engine bench amd` (DESIGN.md section 7, wave 2): answering-machine detection accuracy and decision time
 * over the recorded answers in fixtures/amd (the 7 replay fixtures) and fixtures/amd/set (the larger set the same
 * script assembles from Debian's real speech and music; `--dir D` for another folder of <name>.wav + <name>.json).
 *
 * Each clip is fed to the detector exactly as a call feeds it: 20 ms frames of 8 kHz PCM through the engine's VAD
 * (WebRTC, src/audio/vad.ts) and src/amd/detector.ts, in audio time, so the figures do not depend on the machine.
 * Scored per clip: the verdict against the clip's truth (`expect.answeredBy`), the decision time (audio ms from the
 * answer), and, for clips with a beep, when the detector cues the voicemail message after the beep's end (the
 * message itself starts one TTS first-chunk later: test/cli/replay.test.ts checks that end to end). No recognizer
 * runs here (the offline one hears little on 8 kHz phone audio): words would only make decisions earlier.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AmdDetector } from '../src/amd/detector.js';
import { resample } from '../src/audio/resample.js';
import { createVad } from '../src/audio/vad.js';
import { readWav } from '../src/audio/wav.js';
import { flagString } from '../src/cli/args.js';
import type { BenchContext } from '../src/cli/bench.js';

const FRAME = 160;

interface ClipResult {
  name: string;
  truth: string;
  answered_by: string;
  reason: string;
  amd_ms: number;
  correct: boolean;
  /** Message cue after the beep's end, ms (clips with a beep and a machine verdict). */
  message_after_beep_ms?: number;
}

export interface AmdBenchResult {
  suite: 'amd';
  clips: number;
  correct: number;
  accuracy_pct: number;
  human: { clips: number; correct: number };
  machine: { clips: number; correct: number };
  amd_ms: { p50: number; p95: number; max: number };
  message_after_beep_ms: { clips: number; p50: number; max: number } | null;
  results: ClipResult[];
  [key: string]: unknown;
}

interface Scenario {
  expect?: { answeredBy?: string };
  events?: { type: string; startMs: number; endMs: number }[];
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Every <name>.wav with a <name>.json whose expect names the truth, in the given folders. */
export function amdClips(dirs: string[]): { name: string; wav: string; scenario: Scenario }[] {
  const out: { name: string; wav: string; scenario: Scenario }[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith('.wav')) continue;
      const json = path.join(dir, f.replace(/\.wav$/, '.json'));
      if (!existsSync(json)) continue;
      const scenario = JSON.parse(readFileSync(json, 'utf8')) as Scenario;
      if (!scenario.expect?.answeredBy) continue;
      out.push({ name: f.replace(/\.wav$/, ''), wav: path.join(dir, f), scenario });
    }
  }
  return out;
}

export async function runClip(wavFile: string, scenario: Scenario): Promise<Omit<ClipResult, 'name'>> {
  const wav = readWav(readFileSync(wavFile));
  const pcm = wav.sampleRate === 8000 ? wav.samples : resample(wav.samples, wav.sampleRate, 8000);
  const vad = await createVad({ sampleRate: 8000 });
  const amd = new AmdDetector();
  let cueAt: number | undefined;
  // After the clip, the line is silent until the detector has decided (a clip may stop before the verdict).
  const silence = new Int16Array(FRAME);
  const end = pcm.length + 8000 * 30;
  try {
    for (let i = 0; i + FRAME <= end; i += FRAME) {
      const frame = i + FRAME <= pcm.length ? pcm.subarray(i, i + FRAME) : silence;
      amd.frame(frame, vad.process(frame));
      if (amd.messageCue && cueAt === undefined) cueAt = amd.audioMs;
      if (amd.decision && (amd.decision.answeredBy !== 'machine' || cueAt !== undefined)) break;
    }
  } finally {
    vad.close?.();
  }
  const d = amd.decision ?? { answeredBy: 'unknown', reason: 'timeout_silent', atMs: amd.audioMs };
  const truth = scenario.expect!.answeredBy!;
  const beep = scenario.events?.find((e) => e.type === 'tone');
  return {
    truth,
    answered_by: d.answeredBy,
    reason: d.reason,
    amd_ms: d.atMs,
    correct: d.answeredBy === truth,
    ...(beep && d.answeredBy === 'machine' && cueAt !== undefined
      ? { message_after_beep_ms: Math.round(cueAt - beep.endMs) }
      : {}),
  };
}

export async function run(ctx: BenchContext): Promise<AmdBenchResult> {
  const dir = flagString(ctx.args, 'dir');
  const dirs = dir ? [path.resolve(dir)] : [path.resolve('fixtures/amd'), path.resolve('fixtures/amd/set')];
  const clips = amdClips(dirs);
  if (!clips.length) throw new Error(`bench amd: no clips in ${dirs.join(', ')}`);
  const results: ClipResult[] = [];
  for (const c of clips) {
    const r = { name: c.name, ...(await runClip(c.wav, c.scenario)) };
    results.push(r);
    ctx.progress(`${r.correct ? 'ok  ' : 'MISS'} ${r.name}: ${r.answered_by} (${r.reason}) at ${r.amd_ms} ms`);
  }
  const correct = results.filter((r) => r.correct).length;
  const of = (t: string) => {
    const rs = results.filter((r) => r.truth === t);
    return { clips: rs.length, correct: rs.filter((r) => r.correct).length };
  };
  const times = results.map((r) => r.amd_ms).sort((a, b) => a - b);
  const beeps = results
    .map((r) => r.message_after_beep_ms)
    .filter((v): v is number => v !== undefined)
    .sort((a, b) => a - b);
  return {
    suite: 'amd',
    clips: results.length,
    correct,
    accuracy_pct: Math.round((1000 * correct) / results.length) / 10,
    human: of('human'),
    machine: of('machine'),
    amd_ms: { p50: pct(times, 50), p95: pct(times, 95), max: times.at(-1) ?? 0 },
    message_after_beep_ms: beeps.length ? { clips: beeps.length, p50: pct(beeps, 50), max: beeps.at(-1)! } : null,
    results,
  };
}

export function table(r: Record<string, unknown>): string[][] {
  const res = r as AmdBenchResult;
  const rows: string[][] = [['clip', 'truth', 'answered_by', 'reason', 'amd_ms', 'after_beep_ms']];
  for (const c of res.results)
    rows.push([c.name, c.truth, c.answered_by, c.reason, String(c.amd_ms), String(c.message_after_beep_ms ?? '')]);
  rows.push([
    `accuracy ${res.accuracy_pct}% (${res.correct}/${res.clips})`,
    '',
    '',
    'amd_ms p50/p95/max',
    `${res.amd_ms.p50}/${res.amd_ms.p95}/${res.amd_ms.max}`,
    res.message_after_beep_ms ? `max ${res.message_after_beep_ms.max}` : '',
  ]);
  return rows;
}
