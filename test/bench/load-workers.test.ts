/**
 * `voice-engine bench load --workers 2` as a user runs it, with DATABASE_URL unset: the bench starts its own
 * throwaway Postgres cluster, runs `serve --workers 2`, creates an echo assistant through the API, streams a few
 * media-only calls, reads every worker's pacer-lag histogram from its own /metrics and merges them, then stops
 * the engine and the cluster. Small N, shape only (figures are what the bench prints, never asserted).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findPgBin } from '../store/pg-cluster.js';
import { runBench } from './bench-proc.js';

// Postgres plus a supervisor, two workers and the load client: alone (.ci/run, MULTI_ENGINE_TEST=1).
const run = findPgBin() !== undefined && process.env.MULTI_ENGINE_TEST === '1';
const out = mkdtempSync(path.join(os.tmpdir(), 've-bench-workers-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe.skipIf(!run)('bench load --workers', () => {
  it('runs serve --workers 2 on a throwaway Postgres and merges both workers pacer lag', async () => {
    const env = { ...process.env };
    delete env.DATABASE_URL;
    const r = await runBench(
      ['load', '--workers', '2', '--calls', '4', '--duration', '3', '--json', '--out', out],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('starting a throwaway Postgres cluster');
    expect(r.stderr).toContain('throwaway Postgres cluster stopped');
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ suite: 'load', mode: 'echo', workers: 2, calls: 4, calls_failed: 0 });
    expect(j.store).toMatch(/throwaway Postgres/);
    // Both workers answered /metrics with their own series; their ticks are merged into one histogram.
    expect(Object.keys(j.per_worker_pacer_lag_p99_ms).sort()).toEqual(['1', '2']);
    const counts = Object.values(j.pacer_lag_ms.histogram as Record<string, number>);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(j.pacer_lag_ms.ticks);
    expect(j.pacer_lag_ms.ticks).toBeGreaterThan(0);
    expect(j.frames_returned).toBe(j.frames_sent);
  }, 180_000);
});
