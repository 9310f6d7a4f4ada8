import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { EngineError } from '../../errors.js';
import { tenantAssistant } from '../auth.js';
import type { RouteDeps } from '../deps.js';
import { IdempotencyHeaders, type OutboundInput, startOutbound } from '../outbound-start.js';
import { e164 } from '../phone-number.js';
import { responses } from '../schemas.js';

const Queued = Type.Object({ call_id: Type.String(), status: Type.Literal('queued') });
const Meta = Type.Optional(Type.Record(Type.String(), Type.Unknown()));
const Variables = Type.Optional(
  Type.Record(Type.String(), Type.Unknown(), { description: 'Alias of metadata (merged into it)' }),
);
const Num = (description: string) => Type.Optional(Type.String({ maxLength: 32, description }));

/** The PBX channels, and what a PBX destination may be besides an E.164 number: an extension (digits, * and #). */
const PBX = ['asterisk', 'freeswitch'] as const;
const EXTENSION = /^[0-9*#]{1,20}$/;

/** The first of `names` present in the body: [field name, value]. */
function pick(body: Record<string, unknown>, names: string[]): [string, string] | undefined {
  for (const n of names) if (typeof body[n] === 'string') return [n, body[n] as string];
  return undefined;
}

function required(field: string): never {
  throw new EngineError('VALIDATION_FAILED', `body.${field} is required`, [
    { in: 'body', field, instancePath: '', message: `must have required property '${field}'` },
  ]);
}

async function queue(deps: RouteDeps, req: FastifyRequest, reply: FastifyReply, input: OutboundInput) {
  const { callId, replayed } = await startOutbound(deps, req, input);
  if (replayed) reply.header('idempotent-replayed', 'true');
  return { status: 'success' as const, data: { call_id: callId, status: 'queued' as const } };
}

/**
 * Outbound calls in both reference styles (DESIGN.md 5): CallAI `POST /api/v1/calls/initiate` (also at the seed's
 * example URL `/v1/calls/initiate`) and AI4CALL `POST /webhook/outbound_call{,_pbx}` with the seed's body
 * `{assistantApiKey, to, from, metadata}`; earlier field names stay accepted as aliases. Every number is checked
 * (E.164) and the channel must be able to dial before anything is queued.
 */
export function outboundRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  const tags = ['calls'];
  const s = deps.store;
  return async (app) => {
    for (const url of ['/api/v1/calls/initiate', '/v1/calls/initiate']) {
      app.post(
        url,
        {
          schema: {
            tags,
            summary: `Start an outbound call (CallAI style${url.startsWith('/v1') ? ", the seed's example URL" : ''})`,
            body: Type.Object({
              agent_id: Type.String({ description: 'ag_… (the assistant key ast_… is accepted too)' }),
              to_number: Type.String({ maxLength: 32, description: 'E.164, e.g. +2348012345678' }),
              from_number: Num('Caller id (E.164); default: the channel plugin fromNumber'),
              metadata: Meta,
            }),
            headers: IdempotencyHeaders,
            response: responses(Queued),
          },
        },
        async (req, reply) => {
          const to = e164('to_number', req.body.to_number);
          const from = req.body.from_number === undefined ? undefined : e164('from_number', req.body.from_number);
          const assistant = await tenantAssistant(s, req, req.body.agent_id);
          return queue(deps, req, reply, {
            assistant,
            to,
            ...(from ? { from } : {}),
            ...(req.body.metadata ? { metadata: req.body.metadata } : {}),
          });
        },
      );
    }
    app.post(
      '/webhook/outbound_call',
      {
        schema: {
          tags,
          summary: 'Start an outbound call through the trunk (AI4CALL style)',
          body: Type.Object({
            assistantApiKey: Type.String(),
            to: Num('Number to call (E.164)'),
            from: Num('Caller id (E.164); default: the twilio plugin fromNumber'),
            metadata: Meta,
            phoneNumber: Num('Alias of to'),
            phone_number: Num('Alias of to'),
            to_number: Num('Alias of to'),
            fromNumber: Num('Alias of from'),
            variables: Variables,
          }),
          headers: IdempotencyHeaders,
          response: responses(Queued),
        },
      },
      async (req, reply) => {
        const b = req.body as Record<string, unknown>;
        const [toField, toRaw] = pick(b, ['to', 'phoneNumber', 'phone_number', 'to_number']) ?? required('to');
        const to = e164(toField, toRaw);
        const f = pick(b, ['from', 'fromNumber']);
        const from = f ? e164(f[0], f[1]) : undefined;
        const assistant = await tenantAssistant(s, req, req.body.assistantApiKey);
        return queue(deps, req, reply, {
          assistant,
          to,
          ...(from ? { from } : {}),
          metadata: { ...(req.body.metadata ?? {}), ...(req.body.variables ?? {}) },
        });
      },
    );
    app.post(
      '/webhook/outbound_call_pbx',
      {
        schema: {
          tags,
          summary: 'Start an outbound call through your PBX (Asterisk ARI or FreeSWITCH ESL plugin)',
          body: Type.Object({
            assistantApiKey: Type.String(),
            to: Type.Optional(
              Type.String({ maxLength: 32, description: 'E.164 number or PBX extension (digits, *, #)' }),
            ),
            from: Type.Optional(Type.String({ maxLength: 64, description: 'Caller id' })),
            metadata: Meta,
            pbx: Type.Optional(
              Type.Union(
                PBX.map((p) => Type.Literal(p)),
                { description: 'Which PBX plugin; default: the one the account has active' },
              ),
            ),
            destination: Type.Optional(Type.String({ maxLength: 32, description: 'Alias of to' })),
            callerId: Type.Optional(Type.String({ maxLength: 64, description: 'Alias of from' })),
            variables: Variables,
          }),
          headers: IdempotencyHeaders,
          response: responses(Queued),
        },
      },
      async (req, reply) => {
        const b = req.body as Record<string, unknown>;
        const [toField, raw] = pick(b, ['to', 'destination']) ?? required('to');
        const to = EXTENSION.test(raw) ? raw : e164(toField, raw);
        const from = req.body.from ?? req.body.callerId;
        const assistant = await tenantAssistant(s, req, req.body.assistantApiKey);
        const channel = req.body.pbx ?? (await activePbx(deps, req.tenant.id));
        return queue(deps, req, reply, {
          assistant,
          to,
          channel,
          ...(from ? { from } : {}),
          metadata: { ...(req.body.metadata ?? {}), ...(req.body.variables ?? {}) },
        });
      },
    );
  };
}

/** The account's active PBX plugin when the request names none. */
async function activePbx(deps: RouteDeps, tenantId: string): Promise<string> {
  for (const p of PBX) {
    if ((await deps.store.account.getPlugin(tenantId, p))?.status === 'active') return p;
  }
  throw new EngineError(
    'CHANNEL_NOT_CONFIGURED',
    'No PBX plugin is active: purchase and configure asterisk or freeswitch, or name one with "pbx"',
  );
}
