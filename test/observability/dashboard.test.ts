import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';

/** The Grafana dashboard in docs/ only queries metrics the engine exports (names drift otherwise). */
describe('docs/grafana-dashboard.json', () => {
  it('queries only metrics the engine registers', async () => {
    const dash = JSON.parse(readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as {
      panels: Array<{ targets: Array<{ expr: string }> }>;
    };
    const exported = new Set((await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
    const used = new Set<string>();
    for (const p of dash.panels) {
      for (const t of p.targets) {
        for (const m of t.expr.match(/\b(voice_engine|nodejs)_\w+/g) ?? [])
          used.add(m.replace(/_(bucket|count|sum)$/, ''));
      }
    }
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) expect(exported.has(name), name).toBe(true);
  });
});
