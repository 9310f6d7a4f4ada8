import { describe, expect, it } from 'vitest';
import { run, table } from '../../bench/latency.js';
import { parseArgs } from '../../src/cli/args.js';

// Shape only (DESIGN.md section 7 contract) on a short run; the figures are what the bench prints, never asserted.
describe('bench latency', () => {
  it('returns the contract fields from scripted calls through the real gateway', async () => {
    const lines: string[] = [];
    const r = await run({
      args: parseArgs(['latency', '--calls', '1', '--turns', '3']),
      progress: (l) => lines.push(l),
    });
    expect(r.suite).toBe('latency');
    expect(r.turns).toBe(3);
    for (const k of ['overhead_ms', 'endpointing_ms', 'barge_in_ms'] as const) {
      const s = r[k] as Record<string, number>;
      expect(Object.keys(s).sort()).toEqual(['p50', 'p95', 'p99']);
      for (const v of Object.values(s)) expect(Number.isFinite(v)).toBe(true);
    }
    expect(r.missed).toBe(0);
    expect(r.hesitation_turns).toBe(1);
    expect((r.greeting_ms as { cached: number[] }).cached).toHaveLength(5);
    expect(lines[0]).toContain('/media/twilio');
    expect(table(r)[0]).toEqual(['metric (ms)', 'p50', 'p95', 'p99', 'target']);
  }, 60_000);
});
