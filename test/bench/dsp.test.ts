import { describe, expect, it } from 'vitest';
import { run, table } from '../../bench/dsp.js';
import { parseArgs } from '../../src/cli/args.js';

// Shape only (DESIGN.md section 7 contract); speed is what the bench prints, never asserted here.
describe('bench dsp', () => {
  it('reports every contract stage as a multiple of real time (or null with the reason)', async () => {
    const lines: string[] = [];
    const result = await run({
      args: parseArgs(['dsp', '--seconds', '0.05'], ['json', 'fast']),
      progress: (l) => lines.push(l),
    });
    expect(result.suite).toBe('dsp');
    expect(result.results.map((r) => r.name)).toEqual([
      'g711.decode',
      'g711.encode',
      'resample.8k-16k',
      'resample.16k-8k',
      'dtmf.detect',
      'vad',
    ]);
    for (const r of result.results) {
      if (r.x_realtime === null) {
        expect(typeof r.error).toBe('string');
      } else {
        expect(Number.isFinite(r.x_realtime)).toBe(true);
        expect(r.x_realtime).toBeGreaterThan(0);
        expect(r.ns_per_frame).toBeGreaterThan(0);
      }
    }
    // The result is plain JSON (what --json prints) and the table has a row per stage.
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
    const rows = table(result);
    expect(rows.length).toBe(1 + result.results.length);
    expect(rows[1]![0]).toBe('g711.decode');
    expect(lines.some((l) => l.includes('g711.decode'))).toBe(true);
  });
});
