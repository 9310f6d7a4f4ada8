import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { type ListRow, MAX_ROWS, type ParsedList, parseCsvList, parseRows } from '../../campaigns/list.js';
import { validHhmm, validZone } from '../../campaigns/window.js';
import { EngineError } from '../../errors.js';
import type { Campaign, CampaignRow, CampaignSettings, CampaignStatus, WebhookEventType } from '../../store/index.js';
import { tenantAssistant } from '../auth.js';
import type { RouteDeps } from '../deps.js';
import { e164 } from '../phone-number.js';
import { responses } from '../schemas.js';

/**
 * Campaigns (issue 18): upload a list (JSON rows or CSV text with per-row prompt variables), dialled by an
 * assistant through the outbound queue within calling windows, retried on busy / no-answer / failed, never to the
 * tenant's do-not-call list (src/campaigns/runner.ts does the dialling). Progress: GET the campaign (rows per
 * status) and its rows; the `campaign.*` webhooks (docs/webhooks.md). Pause, resume, cancel.
 */
const Window = Type.Object(
  {
    start: Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', description: 'Local time HH:MM (inclusive)' }),
    end: Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', description: 'Local time HH:MM (exclusive)' }),
    days: Type.Optional(
      Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { maxItems: 7, description: 'ISO weekdays, 1 = Monday' }),
    ),
  },
  { additionalProperties: false },
);
const RowIn = Type.Object(
  {
    phone: Type.String({ maxLength: 32, description: 'E.164' }),
    timezone: Type.Optional(Type.String({ maxLength: 64, description: "IANA zone of this row's calling window" })),
    metadata: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
        description: 'Prompt variables of this row ({{name}} in the first message)',
      }),
    ),
  },
  { additionalProperties: false },
);
const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    agent_id: Type.String({ description: 'ag_… (the assistant key ast_… is accepted too)' }),
    timezone: Type.Optional(Type.String({ maxLength: 64, default: 'UTC', description: 'IANA zone of the window' })),
    window: Type.Optional(Window),
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, default: 3 })),
    retry_backoff_sec: Type.Optional(
      Type.Integer({ minimum: 10, maximum: 86_400, default: 600, description: 'First retry after this; doubles' }),
    ),
    max_concurrent: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, default: 5, description: "Also capped by the account's limit" }),
    ),
    channel: Type.Optional(Type.String({ maxLength: 32, description: 'twilio (default), asterisk, freeswitch' })),
    from_number: Type.Optional(Type.String({ maxLength: 32 })),
    opt_out_digit: Type.Optional(Type.String({ pattern: '^[0-9*#]$', description: 'Key that opts the callee out' })),
    rows: Type.Optional(Type.Array(RowIn, { maxItems: MAX_ROWS })),
    csv: Type.Optional(
      Type.String({ maxLength: 8_000_000, description: 'CSV with a header row: phone, [timezone], variables…' }),
    ),
  },
  { additionalProperties: false },
);
const Counts = Type.Record(Type.String(), Type.Integer());
const CampaignOut = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: Type.String(),
  agent_id: Type.String(),
  timezone: Type.String(),
  window: Type.Optional(Window),
  max_attempts: Type.Integer(),
  retry_backoff_sec: Type.Integer(),
  max_concurrent: Type.Integer(),
  channel: Type.Optional(Type.String()),
  from_number: Type.Optional(Type.String()),
  opt_out_digit: Type.Optional(Type.String()),
  counts: Counts,
  created_at: Type.String(),
  updated_at: Type.String(),
});
const Rejected = Type.Array(
  Type.Object({ row: Type.Integer(), phone: Type.Optional(Type.String()), reason: Type.String() }),
);
const RowOut = Type.Object({
  id: Type.String(),
  seq: Type.Integer(),
  phone: Type.String(),
  timezone: Type.Optional(Type.String()),
  metadata: Type.Record(Type.String(), Type.String()),
  status: Type.String(),
  attempts: Type.Integer(),
  next_attempt_at: Type.Optional(Type.String()),
  result: Type.Optional(Type.String()),
  call_id: Type.Optional(Type.String()),
  answered_by: Type.Optional(Type.String()),
});
const RowStatus = Type.Union(
  ['pending', 'dialing', 'completed', 'failed', 'dnc', 'opted_out', 'cancelled'].map((s) => Type.Literal(s)),
);
const IdParams = Type.Object({ id: Type.String() });
const DncEntry = Type.Object({ number: Type.String(), reason: Type.String(), created_at: Type.String() });

function invalid(field: string, message: string): never {
  throw new EngineError('VALIDATION_FAILED', `body.${field} ${message}`, [
    { in: 'body', field, instancePath: `/${field}`, message },
  ]);
}

function rowOut(r: CampaignRow) {
  return {
    id: r.id,
    seq: r.seq,
    phone: r.phone,
    ...(r.timezone ? { timezone: r.timezone } : {}),
    metadata: r.metadata,
    status: r.status,
    attempts: r.attempts,
    ...(r.status === 'pending' && r.nextAttemptAt > 0
      ? { next_attempt_at: new Date(r.nextAttemptAt).toISOString() }
      : {}),
    ...(r.result ? { result: r.result } : {}),
    ...(r.callId ? { call_id: r.callId } : {}),
    ...(r.answeredBy ? { answered_by: r.answeredBy } : {}),
  };
}

export function campaignRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  const tags = ['campaigns'];
  const s = deps.store;
  const out = async (c: Campaign) => {
    const x = c.settings;
    return {
      id: c.id,
      name: c.name,
      status: c.status,
      agent_id: c.assistantId,
      timezone: x.timezone,
      ...(x.window ? { window: x.window } : {}),
      max_attempts: x.maxAttempts,
      retry_backoff_sec: x.retryBackoffSec,
      max_concurrent: x.maxConcurrent,
      ...(x.channel ? { channel: x.channel } : {}),
      ...(x.from ? { from_number: x.from } : {}),
      ...(x.optOutDigit ? { opt_out_digit: x.optOutDigit } : {}),
      counts: await s.campaigns.counts(c.id),
      created_at: c.createdAt,
      updated_at: c.updatedAt,
    };
  };
  const find = async (req: FastifyRequest, id: string): Promise<Campaign> => {
    const c = await s.campaigns.get(req.tenant.id, id);
    if (!c) throw new EngineError('CAMPAIGN_NOT_FOUND');
    return c;
  };
  /** pause / resume / cancel: allowed moves, and the webhook each sends. */
  const MOVES: Record<string, { from: CampaignStatus[]; to: CampaignStatus; event: WebhookEventType }> = {
    pause: { from: ['running'], to: 'paused', event: 'campaign.paused' },
    resume: { from: ['paused'], to: 'running', event: 'campaign.resumed' },
    cancel: { from: ['running', 'paused'], to: 'cancelled', event: 'campaign.cancelled' },
  };

  return async (app) => {
    app.post(
      '/api/v1/campaigns',
      {
        bodyLimit: 16 * 1024 * 1024,
        schema: {
          tags,
          summary: 'Create a campaign from a list of numbers (JSON rows or CSV); it starts dialling at once',
          body: CreateBody,
          response: responses(
            Type.Object({ campaign: CampaignOut, accepted: Type.Integer(), rejected: Rejected }),
            201,
          ),
        },
      },
      async (req, reply) => {
        const b = req.body;
        const assistant = await tenantAssistant(s, req, b.agent_id);
        const timezone = b.timezone ?? 'UTC';
        if (!validZone(timezone))
          invalid('timezone', `must be an IANA time zone (e.g. America/New_York); got '${timezone}'`);
        if (b.window && (!validHhmm(b.window.start) || !validHhmm(b.window.end))) invalid('window', 'must be HH:MM');
        const from = b.from_number === undefined ? undefined : e164('from_number', b.from_number);
        const channel = b.channel ?? 'twilio';
        const blocker = await deps.dialer?.unavailable?.(req.tenant.id, channel, from);
        if (!deps.outbound) throw new EngineError('UNAVAILABLE', 'Outbound calling is not configured in this engine');
        if (blocker) throw new EngineError(blocker.code, blocker.message);
        if ((b.rows === undefined) === (b.csv === undefined)) invalid('rows', 'or body.csv is required (one of them)');
        let list: ParsedList;
        if (b.csv !== undefined) {
          const parsed = parseCsvList(b.csv);
          if ('error' in parsed) return invalid('csv', parsed.error);
          list = parsed;
        } else list = parseRows(b.rows as ListRow[]);
        if (list.rows.length > MAX_ROWS) invalid('csv', `has more than ${MAX_ROWS} rows`);
        if (!list.rows.length)
          throw new EngineError('UNPROCESSABLE', 'No valid row in the list', { rejected: list.rejected.slice(0, 100) });
        const settings: CampaignSettings = {
          timezone,
          ...(b.window ? { window: b.window } : {}),
          maxAttempts: b.max_attempts ?? 3,
          retryBackoffSec: b.retry_backoff_sec ?? 600,
          maxConcurrent: b.max_concurrent ?? 5,
          ...(b.channel ? { channel: b.channel } : {}),
          ...(from ? { from } : {}),
          ...(b.opt_out_digit ? { optOutDigit: b.opt_out_digit } : {}),
        };
        const c = await s.campaigns.create(
          req.tenant.id,
          { assistantId: assistant.id, name: b.name, settings },
          list.rows,
        );
        reply.status(201);
        return {
          status: 'success' as const,
          data: { campaign: await out(c), accepted: list.rows.length, rejected: list.rejected },
        };
      },
    );
    app.get(
      '/api/v1/campaigns',
      {
        schema: {
          tags,
          summary: 'List campaigns (newest first) with their progress',
          response: responses(Type.Array(CampaignOut)),
        },
      },
      async (req) => ({
        status: 'success' as const,
        data: await Promise.all((await s.campaigns.list(req.tenant.id)).map(out)),
      }),
    );
    app.get(
      '/api/v1/campaigns/dnc',
      {
        schema: {
          tags,
          summary: "The account's do-not-call list (number order)",
          querystring: Type.Object({
            after: Type.Optional(Type.String({ maxLength: 32 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          }),
          response: responses(Type.Array(DncEntry)),
        },
      },
      async (req) => {
        const q = req.query;
        const entries = await s.campaigns.listDnc(req.tenant.id, {
          ...(q.after ? { after: q.after } : {}),
          ...(q.limit ? { limit: q.limit } : {}),
        });
        return {
          status: 'success' as const,
          data: entries.map((e) => ({ number: e.number, reason: e.reason, created_at: e.createdAt })),
        };
      },
    );
    app.post(
      '/api/v1/campaigns/dnc',
      {
        schema: {
          tags,
          summary: 'Add numbers to the do-not-call list (no campaign dials them)',
          body: Type.Object({
            numbers: Type.Array(Type.String({ maxLength: 32 }), { minItems: 1, maxItems: 10_000 }),
            reason: Type.Optional(Type.String({ maxLength: 200, default: 'list' })),
          }),
          response: responses(Type.Object({ added: Type.Integer() })),
        },
      },
      async (req) => {
        const numbers = req.body.numbers.map((n, i) => e164(`numbers.${i}`, n));
        const added = await s.campaigns.addDnc(req.tenant.id, numbers, req.body.reason ?? 'list');
        return { status: 'success' as const, data: { added } };
      },
    );
    app.delete(
      '/api/v1/campaigns/dnc/:number',
      {
        schema: {
          tags,
          summary: 'Remove a number from the do-not-call list',
          params: Type.Object({ number: Type.String({ maxLength: 32 }) }),
          response: responses(Type.Object({ removed: Type.Boolean() })),
        },
      },
      async (req) => {
        const removed = await s.campaigns.removeDnc(req.tenant.id, req.params.number);
        if (!removed) throw new EngineError('NOT_FOUND', `${req.params.number} is not on the do-not-call list`);
        return { status: 'success' as const, data: { removed } };
      },
    );
    app.get(
      '/api/v1/campaigns/:id',
      {
        schema: {
          tags,
          summary: 'A campaign and its rows per status',
          params: IdParams,
          response: responses(CampaignOut),
        },
      },
      async (req) => ({ status: 'success' as const, data: await out(await find(req, req.params.id)) }),
    );
    app.get(
      '/api/v1/campaigns/:id/rows',
      {
        schema: {
          tags,
          summary: "A campaign's rows and their results, in list order",
          params: IdParams,
          querystring: Type.Object({
            status: Type.Optional(RowStatus),
            after: Type.Optional(Type.Integer({ minimum: 0, description: 'Rows after this seq (next page)' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          }),
          response: responses(Type.Object({ rows: Type.Array(RowOut), next_after: Type.Optional(Type.Integer()) })),
        },
      },
      async (req) => {
        const c = await find(req, req.params.id);
        const limit = req.query.limit ?? 100;
        const rows = await s.campaigns.rows(req.tenant.id, c.id, {
          limit,
          ...(req.query.status ? { status: req.query.status } : {}),
          ...(req.query.after !== undefined ? { after: req.query.after } : {}),
        });
        const last = rows.length === limit ? rows.at(-1)?.seq : undefined;
        return {
          status: 'success' as const,
          data: { rows: rows.map(rowOut), ...(last !== undefined ? { next_after: last } : {}) },
        };
      },
    );
    for (const [action, move] of Object.entries(MOVES)) {
      app.post(
        `/api/v1/campaigns/:id/${action}`,
        {
          schema: {
            tags,
            summary: `${action[0]!.toUpperCase()}${action.slice(1)} a campaign${
              action === 'cancel' ? ' (rows not yet dialled are cancelled; calls in progress go on)' : ''
            }`,
            params: IdParams,
            body: Type.Optional(Type.Object({}, { additionalProperties: false, description: 'No fields' })),
            response: responses(CampaignOut),
          },
          // A POST with no body at all is the usual call: validated as {}.
          preValidation: async (req: FastifyRequest) => {
            req.body ??= {};
          },
        },
        async (req) => {
          const c = await find(req, req.params.id);
          if (!move.from.includes(c.status))
            throw new EngineError(
              'CONFLICT',
              `A ${c.status} campaign cannot be ${move.to === 'running' ? 'resumed' : move.to}`,
            );
          await s.campaigns.setStatus(c.id, move.to);
          if (move.to === 'cancelled') await s.campaigns.cancelPending(c.id);
          const now = await out({ ...c, status: move.to, updatedAt: new Date().toISOString() });
          await deps.webhooks?.enqueue(req.tenant.id, move.event, {
            campaign_id: c.id,
            name: c.name,
            counts: now.counts,
          });
          return { status: 'success' as const, data: now };
        },
      );
    }
  };
}
