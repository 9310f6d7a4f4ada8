import type { VNode } from 'preact';
import type { Api, Json } from '../api.js';
import { BarChart } from '../charts.js';
import { ErrorBox, html, useLoad } from '../ui.js';

function pct(values: number[], q: number): number | undefined {
  if (!values.length) return undefined;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

/** Calls per day, outcomes, and latency percentiles over the account's recent calls. */
export function Analytics({ api }: { api: Api }): VNode {
  const rows = useLoad(() => api.list<Json>('/api/v1/account/analytics/calls?limit=500'));
  const data = rows.data ?? [];
  const perDay = new Map<string, number>();
  const outcomes = new Map<string, number>();
  const p50s: number[] = [];
  for (const r of data) {
    const day = String(r.started_at ?? r.startedAt ?? r.created_at ?? r.createdAt ?? '').slice(0, 10);
    if (day) perDay.set(day, (perDay.get(day) ?? 0) + 1);
    const o = String(r.status ?? r.outcome ?? 'unknown');
    outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
    const v = r.latency_p50_ms ?? r.latencyP50Ms;
    if (typeof v === 'number') p50s.push(v);
  }
  const days = [...perDay.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  const fmt = (v: number | undefined) => (v === undefined ? '—' : `${Math.round(v)} ms`);
  return html`<section aria-labelledby="h-analytics"><h2 id="h-analytics">Analytics</h2>
    <${ErrorBox} error=${rows.error} />
    <h3>Calls per day</h3><${BarChart} data=${days} label="Calls per day" />
    <h3>Outcomes</h3><${BarChart} data=${[...outcomes.entries()]} label="Calls by outcome" />
    <h3>Voice-to-voice latency (per-call medians)</h3>
    <table class="list"><thead><tr><th>calls</th><th>p50</th><th>p95</th><th>p99</th></tr></thead>
      <tbody><tr><td>${p50s.length}</td><td>${fmt(pct(p50s, 0.5))}</td><td>${fmt(pct(p50s, 0.95))}</td><td>${fmt(pct(p50s, 0.99))}</td></tr></tbody></table>
  </section>`;
}
