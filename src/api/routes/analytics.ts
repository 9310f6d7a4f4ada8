import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AnalyticsKind, CallRecord } from '../../store/index.js';
import type { RouteDeps } from '../deps.js';
import { Obj, page, RangeQuery, responses } from '../schemas.js';

/** Nearest-rank percentile of sorted values (ms, rounded), or null when there are none. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!);
}

/** One flat row per call for BI tools: scalars only, ISO timestamps, latency summarized from the turns. */
export function flatCall(c: CallRecord): Record<string, unknown> {
  // Voice-to-voice (caller stops speaking -> caller hears the agent) is what every turn carries (src/call/metrics.ts).
  const lat = c.turns
    .map((t) => t.voiceToVoiceMs ?? t.latencyMs ?? t.totalMs)
    .filter((n): n is number => typeof n === 'number' && Number.isFinite(n))
    .sort((a, b) => a - b);
  return {
    call_id: c.id,
    assistant_id: c.assistantId,
    direction: c.direction,
    status: c.status,
    from: c.from ?? null,
    to: c.to ?? null,
    protocol: c.protocol ?? null,
    created_at: c.createdAt,
    started_at: c.startedAt ?? null,
    ended_at: c.endedAt ?? null,
    duration_ms: c.durationMs ?? null,
    end_reason: c.endReason ?? null,
    turns: c.turns.length,
    latency_p50_ms: percentile(lat, 0.5),
    latency_p95_ms: percentile(lat, 0.95),
    tool_calls: c.toolCalls.length,
    dtmf_digits: c.dtmf.length,
    incidents: c.incidents.length,
    has_recording: c.recordingPath !== undefined,
    summary: c.summary ?? null,
    structured_output: c.structuredOutput === undefined ? null : JSON.stringify(c.structuredOutput),
  };
}

const KINDS: Record<string, AnalyticsKind> = {
  recharges: 'recharge',
  rag: 'rag',
  sms: 'sms',
  'tool-responses': 'tool',
  'pre-call': 'precall',
};

const iso = (v: string | undefined) => (v ? new Date(v).toISOString() : undefined);

/** /api/v1/account/analytics/*: time-range filtered, cursor-paginated, flat JSON rows (issue 7, item 5). */
export function analyticsRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  const tags = ['analytics'];
  return async (app) => {
    for (const [name, direction] of [
      ['calls', undefined],
      ['calls-outbound', 'outbound'],
    ] as const) {
      app.get(
        `/api/v1/account/analytics/${name}`,
        {
          schema: {
            tags,
            summary: `${direction ? 'Outbound calls' : 'Calls'}, one flat row each`,
            querystring: RangeQuery,
            response: responses(page(Obj)),
          },
        },
        async (req) => {
          const q = req.query;
          const from = iso(q.from);
          const to = iso(q.to);
          const r = await deps.store.calls.list(req.tenant.id, {
            ...(from ? { from } : {}),
            ...(to ? { to } : {}),
            ...(q.cursor ? { cursor: q.cursor } : {}),
            ...(q.limit ? { limit: q.limit } : {}),
            ...(direction ? { direction } : {}),
          });
          return {
            status: 'success' as const,
            data: { rows: r.rows.map(flatCall), ...(r.nextCursor ? { nextCursor: r.nextCursor } : {}) },
          };
        },
      );
    }
    for (const [name, kind] of Object.entries(KINDS)) {
      app.get(
        `/api/v1/account/analytics/${name}`,
        {
          schema: {
            tags,
            summary: `${name} events, one flat row each`,
            querystring: RangeQuery,
            response: responses(page(Obj)),
          },
        },
        async (req) => {
          const q = req.query;
          const from = iso(q.from);
          const to = iso(q.to);
          const r = await deps.store.analytics.list(req.tenant.id, kind, {
            ...(from ? { from } : {}),
            ...(to ? { to } : {}),
            ...(q.cursor ? { cursor: q.cursor } : {}),
            ...(q.limit ? { limit: q.limit } : {}),
          });
          const rows = r.rows.map((x) => {
            const flat: Record<string, unknown> = { id: x.id, at: x.at, kind: name };
            for (const [k, v] of Object.entries(x.data))
              flat[k] = v !== null && typeof v === 'object' ? JSON.stringify(v) : v;
            return flat;
          });
          return { status: 'success' as const, data: { rows, ...(r.nextCursor ? { nextCursor: r.nextCursor } : {}) } };
        },
      );
    }
  };
}
