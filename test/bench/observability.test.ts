import { describe, expect, it } from 'vitest';
import { run, table } from '../../bench/observability.js';
import { parseArgs } from '../../src/cli/args.js';

// Shape only on a one-call run (the figures are what the bench prints, never asserted): both engines answered every
// turn, spans reached the loopback OTLP collector, and the table has its rows.
describe('bench observability', () => {
  it('measures per-turn overhead with observability off and on, spans exported over OTLP/HTTP', async () => {
    const r = await run({ args: parseArgs(['observability', '--calls', '1', '--turns', '1']), progress: () => {} });
    expect(r.suite).toBe('observability');
    expect(r.turns).toBe(2);
    const o = r.overhead_ms as Record<'off' | 'on', Record<string, number>>;
    for (const side of ['off', 'on'] as const) {
      expect(Object.keys(o[side]).sort()).toEqual(['p50', 'p95', 'p99']);
      for (const v of Object.values(o[side])) expect(Number.isFinite(v)).toBe(true);
    }
    expect(r.otlp_export_requests as number).toBeGreaterThan(0);
    expect(table(r)).toHaveLength(4);
  }, 90_000);
});
