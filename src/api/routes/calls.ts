import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { type TSchema, Type } from 'typebox';
import { EngineError } from '../../errors.js';
import { createLocalStorage } from '../../storage/local.js';
import type { CallRecord } from '../../store/index.js';
import type { RouteDeps } from '../deps.js';
import { sendRecording } from '../recording-link.js';
import { ErrorSchema, Obj, page, RangeQuery, responses } from '../schemas.js';

const Status = Type.Union(
  ['queued', 'ringing', 'in-progress', 'completed', 'failed', 'busy', 'no-answer', 'canceled'].map((s) =>
    Type.Literal(s),
  ),
);
const Events = Type.Array(Obj);
export const CallSchema = Type.Object({
  id: Type.String({ description: 'c_…' }),
  assistantId: Type.String(),
  direction: Type.Union([Type.Literal('inbound'), Type.Literal('outbound')]),
  status: Status,
  from: Type.Optional(Type.String()),
  to: Type.Optional(Type.String()),
  protocol: Type.Optional(Type.String()),
  providerCallId: Type.Optional(Type.String()),
  metadata: Obj,
  createdAt: Type.String(),
  startedAt: Type.Optional(Type.String()),
  endedAt: Type.Optional(Type.String()),
  endReason: Type.Optional(Type.String()),
  durationMs: Type.Optional(Type.Integer()),
  recordingUrl: Type.Optional(Type.String()),
  test: Type.Optional(Type.Boolean({ description: 'Made with a test key (test mode): simulated, never a carrier' })),
  summary: Type.Optional(Type.String()),
  structuredOutput: Type.Optional(Type.Unknown()),
  structuredOutputError: Type.Optional(Type.String()),
  transcript: Events,
  turns: Events,
  toolCalls: Events,
  dtmf: Events,
  incidents: Events,
});

/** API view of a call: the recording as an authenticated URL, never a server path. */
export function callView(c: CallRecord) {
  const { tenantId: _t, ownerId: _o, recordingPath, ...rest } = c;
  return { ...rest, ...(recordingPath ? { recordingUrl: `/api/v1/calls/${c.id}/recording` } : {}) };
}

/** Test mode: records a test key sees say so (`test: true`), like the webhooks sent for them. */
function testMark<T extends object>(req: FastifyRequest, record: T): T & { test?: true } {
  return req.tenant.environment === 'test' ? { ...record, test: true as const } : record;
}

/** Calls: list, detail, recording. */
export function callRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  const tags = ['calls'];
  const s = deps.store;
  return async (app) => {
    app.get(
      '/api/v1/calls',
      {
        schema: {
          tags,
          summary: 'List calls, newest first',
          querystring: Type.Intersect([
            RangeQuery,
            Type.Object({
              direction: Type.Optional(Type.Union([Type.Literal('inbound'), Type.Literal('outbound')])),
              status: Type.Optional(Status),
              assistantId: Type.Optional(Type.String()),
            }),
          ]),
          response: responses(page(CallSchema)),
        },
      },
      async (req) => {
        const q = req.query as {
          from?: string;
          to?: string;
          direction?: 'inbound' | 'outbound';
          status?: CallRecord['status'];
          assistantId?: string;
          cursor?: string;
          limit?: number;
        };
        const r = await s.calls.list(req.tenant.id, {
          ...q,
          ...(q.from ? { from: new Date(q.from).toISOString() } : {}),
          ...(q.to ? { to: new Date(q.to).toISOString() } : {}),
        });
        return {
          status: 'success' as const,
          data: {
            rows: r.rows.map((c) => testMark(req, callView(c))),
            ...(r.nextCursor ? { nextCursor: r.nextCursor } : {}),
          },
        };
      },
    );
    app.get(
      '/api/v1/calls/:callId',
      {
        schema: {
          tags,
          summary: 'A call with transcript, turns, tools, DTMF, incidents',
          params: Type.Object({ callId: Type.String() }),
          response: responses(CallSchema),
        },
      },
      async (req) => {
        const c = await s.calls.get(req.tenant.id, req.params.callId);
        if (!c) throw new EngineError('CALL_NOT_FOUND');
        return { status: 'success' as const, data: testMark(req, callView(c)) };
      },
    );
    app.get(
      '/api/v1/calls/:callId/recording',
      {
        schema: {
          tags,
          summary: 'Download the call recording (WAV)',
          params: Type.Object({ callId: Type.String() }),
          response: { 200: Type.String({ description: 'audio/wav', format: 'binary' }), '4xx': ErrorSchema } as Record<
            string,
            TSchema
          >,
        },
      },
      async (req, reply) => {
        const c = await s.calls.get(req.tenant.id, req.params.callId);
        if (!c) throw new EngineError('CALL_NOT_FOUND');
        return sendRecording(reply, deps.files ?? createLocalStorage(deps.config.dataDir), c);
      },
    );
  };
}
