/**
 * The bench commands as a user runs them (`voice-engine bench <suite> --json --out DIR`): exactly one JSON object on
 * stdout, the DESIGN.md section 7 fields, results saved under --out with the machine and the command. Small N and
 * shape only: timing figures are what the bench prints, never asserted (noisy shared machine).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBench } from './bench-proc.js';

const out = mkdtempSync(path.join(os.tmpdir(), 've-bench-cli-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function bench(args: string[]) {
  return runBench([...args, '--json', '--out', out]);
}

function saved(suite: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(out, `${suite}.json`), 'utf8')) as Record<string, unknown>;
}

describe('voice-engine bench --json --out', () => {
  it('latency --profile realistic: one JSON object with the contract fields, saved with the machine', async () => {
    const r = await bench(['latency', '--profile', 'realistic', '--calls', '1', '--rounds', '1', '--no-adapters']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j).toMatchObject({ suite: 'latency', profile: 'realistic' });
    for (const k of ['overhead_ms', 'endpointing_ms', 'barge_in_ms', 'voice_to_voice_ms', 'barge_in_audio_stop_ms'])
      expect(Object.keys(j[k] as object).sort(), k).toEqual(['p50', 'p95', 'p99']);
    for (const k of ['turns', 'ignored_turns', 'acknowledgements_stopped_agent']) expect(typeof j[k], k).toBe('number');
    const s = saved('latency');
    expect(s.machine).toMatchObject({ cores: expect.any(Number), node: process.version });
    expect(String(s.command)).toContain('bench latency --profile realistic');
    expect(readdirSync(out).some((f) => /^latency-.+\.json$/.test(f))).toBe(true);
  }, 240_000);

  it('load --mode full: whole call sessions on a small N; the run carries its mode and per-turn latency', async () => {
    const r = await bench(['load', '--mode', 'full', '--calls', '2', '--duration', '12']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j).toMatchObject({ suite: 'load', mode: 'full', calls: 2 });
    for (const k of ['dropped_frames', 'cpu_pct', 'rss_mb', 'cpu_pct_per_call', 'rss_mb_per_call'])
      expect(typeof j[k], k).toBe('number');
    expect(Object.keys(j.lag_ms as object)).toEqual(expect.arrayContaining(['p50', 'p99']));
    expect(Object.keys(j.jitter_ms as object)).toContain('p99');
    expect(Object.keys(j.turn_latency_ms as object).sort()).toEqual(['p50', 'p95']);
    expect(j).toHaveProperty('max_calls_under_20ms_p99');
    // The sessions really ran: turns were committed from the real-speech callers through the Deepgram fake.
    expect(j.turns_committed as number).toBeGreaterThan(0);
    // The turn report: each caller utterance against what the engine heard and did (acknowledgements apart).
    for (const k of ['turns_unanswered', 'turns_without_new_audio']) expect(typeof j[k], k).toBe('number');
    expect(Object.keys(j.outcomes as object)).toContain('question');
    expect(Array.isArray(j.unanswered_detail)).toBe(true);
    expect(saved('load').mode).toBe('full');
  }, 240_000);

  it('load --mode echo carries its mode; a bad mode is a usage error (exit 2)', async () => {
    const r = await bench(['load', '--mode', 'echo', '--calls', '2', '--duration', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ suite: 'load', mode: 'echo', calls: 2, calls_refused: {} });
    // The bench's one client IP: the per-IP cap on connecting sockets is raised to the calls, and the run says so.
    expect(JSON.parse(r.stdout).media_limits.max_pending_per_ip).toBeGreaterThanOrEqual(2);
    expect(r.stderr).toContain('MEDIA_MAX_PENDING_PER_IP raised');
    // CPU per call-second, engine and client apart, from the frames each handled over the steady state.
    const j = JSON.parse(r.stdout);
    expect(j.frames_returned).toBe(j.frames_sent);
    for (const side of [j.engine_ms_per_call_s, j.client_ms_per_call_s]) {
      expect(side.total).toBeGreaterThan(0);
      expect(side.total).toBeCloseTo(side.user + side.system, 2);
    }
    expect(r.stderr).toContain('cpu ms per call-second: engine');
    // The goal's arithmetic from the measured cost: what 1,000 calls per core need of this machine's CPU.
    expect(j.goal_1000_calls_per_core).toMatchObject({ measured_at_calls: 2 });
    const goal = j.goal_1000_calls_per_core;
    expect(goal.goal_needs_cpu_pct).toBeCloseTo(
      (1000 * os.availableParallelism() * goal.engine_plus_client_ms_per_call_s) / 10,
      0,
    );
    const bad = await bench(['load', '--mode', 'warp']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/--mode warp/);
  }, 120_000);

  it("rag --in-call exits when done and keeps its own latest file (rag-in-call.json), not the suite's", async () => {
    const r = await bench(['rag', '--in-call', '--partial-ms', '1', '--endpointing-ms', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ suite: 'rag', mode: 'in-call', questions: 57 });
    expect(saved('rag-in-call')).toMatchObject({ suite: 'rag', variant: 'in-call' });
    expect(readdirSync(out)).not.toContain('rag.json');
  }, 120_000);
});
