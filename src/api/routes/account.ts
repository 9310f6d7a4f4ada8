import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EngineError } from '../../errors.js';
import { normalizeNumber } from '../../store/index.js';
import { tenantAssistant } from '../auth.js';
import type { RouteDeps } from '../deps.js';
import { checkIpEntry, ipMatches } from '../ip-allowlist.js';
import { e164 } from '../phone-number.js';
import { responses } from '../schemas.js';

const IpsSchema = Type.Object(
  { entries: Type.Array(Type.String({ description: 'IPv4/IPv6 address or CIDR' }), { maxItems: 500 }) },
  { additionalProperties: false },
);
const IpsPut = Type.Object(
  {
    entries: Type.Array(Type.String({ description: 'IPv4/IPv6 address or CIDR' }), { maxItems: 500 }),
    force: Type.Optional(
      Type.Boolean({ description: 'Save even though the list excludes the IP making this request (locks it out)' }),
    ),
  },
  { additionalProperties: false },
);
const LimitsSchema = Type.Object(
  {
    maxConcurrent: Type.Optional(Type.Integer({ minimum: 0, description: 'Calls ringing or in progress at once' })),
    maxPerHour: Type.Optional(Type.Integer({ minimum: 0 })),
    maxPerDay: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
// One `type` list, not anyOf: with coerceTypes ajv would turn 0 into null (or null into 0) in a union's branches.
const LimitOrNull = Type.Optional(
  Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 0, description: 'null removes the limit' }),
);
const LimitsPatch = Type.Object(
  { maxConcurrent: LimitOrNull, maxPerHour: LimitOrNull, maxPerDay: LimitOrNull },
  { additionalProperties: false },
);
const RouteSchema = Type.Object({
  number: Type.String(),
  assistantId: Type.String(),
  assistantApiKey: Type.Optional(Type.String()),
  createdAt: Type.String(),
});
/** /api/v1/account: allowlist, call limits, number routing, credit (the keys: routes/keys.ts). */
export function accountRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  const tags = ['account'];
  const s = deps.store;
  return async (app) => {
    app.get(
      '/api/v1/account/allowed-ips',
      { schema: { tags, summary: 'IP allowlist (empty = any IP)', response: responses(IpsSchema) } },
      async (req) => ({ status: 'success' as const, data: { entries: await s.account.getAllowedIps(req.tenant.id) } }),
    );
    const putIps = {
      schema: { tags, summary: 'Replace the IP allowlist', body: IpsPut, response: responses(IpsSchema) },
    };
    // The seed documents GET/PATCH; PUT is kept. Both replace the list (a list has no fields to merge).
    for (const verb of ['put', 'patch'] as const)
      app[verb]('/api/v1/account/allowed-ips', putIps, async (req) => {
        const bad = req.body.entries.map((e, i) => ({ i, msg: checkIpEntry(e.trim()) })).filter((x) => x.msg);
        if (bad.length > 0) {
          throw new EngineError(
            'VALIDATION_FAILED',
            bad.map((b) => `body.entries.${b.i} ${b.msg}`).join('; '),
            bad.map((b) => ({ in: 'body', field: `entries.${b.i}`, instancePath: `/entries/${b.i}`, message: b.msg })),
          );
        }
        const entries = req.body.entries.map((e) => e.trim());
        // The usual way to lose access to an account: an allowlist without the caller's own address.
        if (!req.body.force && !ipMatches(entries, req.ip)) {
          throw new EngineError(
            'UNPROCESSABLE',
            `This list does not include your current IP ${req.ip}: add it, or send "force": true to lock it out`,
          );
        }
        await s.account.setAllowedIps(req.tenant.id, entries);
        return { status: 'success' as const, data: { entries } };
      });
    app.get(
      '/api/v1/account/call-limits',
      {
        schema: {
          tags,
          summary: 'Call limits and current usage',
          response: responses(
            Type.Object({
              limits: LimitsSchema,
              active: Type.Integer(),
              lastHour: Type.Integer(),
              lastDay: Type.Integer(),
            }),
          ),
        },
      },
      async (req) => {
        const now = Date.now();
        return {
          status: 'success' as const,
          data: {
            limits: await s.account.getCallLimits(req.tenant.id),
            active: await s.calls.countActive(req.tenant.id),
            lastHour: await s.calls.countSince(req.tenant.id, new Date(now - 3_600_000).toISOString()),
            lastDay: await s.calls.countSince(req.tenant.id, new Date(now - 86_400_000).toISOString()),
          },
        };
      },
    );
    app.put(
      '/api/v1/account/call-limits',
      {
        schema: {
          tags,
          summary: 'Set call limits (absent = unlimited)',
          body: LimitsSchema,
          response: responses(LimitsSchema),
        },
      },
      async (req) => {
        await s.account.setCallLimits(req.tenant.id, req.body);
        return { status: 'success' as const, data: req.body };
      },
    );
    app.patch(
      '/api/v1/account/call-limits',
      {
        schema: {
          tags,
          summary: 'Update call limits (fields merge; null removes a limit)',
          body: LimitsPatch,
          response: responses(LimitsSchema),
        },
      },
      async (req) => {
        const next: Record<string, number> = { ...(await s.account.getCallLimits(req.tenant.id)) };
        for (const [k, v] of Object.entries(req.body)) {
          if (v === null) delete next[k];
          else next[k] = v;
        }
        await s.account.setCallLimits(req.tenant.id, next);
        return { status: 'success' as const, data: next };
      },
    );
    app.get(
      '/api/v1/account/number-routing',
      { schema: { tags, summary: 'Called number -> assistant', response: responses(Type.Array(RouteSchema)) } },
      async (req) => ({
        status: 'success' as const,
        data: (await s.numberRouting.list(req.tenant.id)).map((r) => ({
          number: r.number,
          assistantId: r.assistantId,
          createdAt: r.createdAt,
        })),
      }),
    );
    for (const verb of ['put', 'patch'] as const)
      app[verb](
        '/api/v1/account/number-routing',
        {
          schema: {
            tags,
            summary: 'Route a called number to one of your assistants',
            body: Type.Object(
              {
                number: Type.String({ minLength: 2, maxLength: 32 }),
                assistantApiKey: Type.String({ description: 'ast_… or ag_…' }),
              },
              { additionalProperties: false },
            ),
            response: responses(RouteSchema),
          },
        },
        async (req) => {
          // Real numbers ring on real carriers: a test-mode route would take live calls into test data.
          if (req.tenant.environment === 'test') {
            throw new EngineError('FORBIDDEN', 'Number routing binds real carrier numbers: use a production key');
          }
          const number = e164('number', normalizeNumber(req.body.number));
          const a = await tenantAssistant(s, req, req.body.assistantApiKey);
          const r = await s.numberRouting.set(req.tenant.id, number, a.id);
          if (!r) throw new EngineError('CONFLICT', `Number ${req.body.number} is routed by another account`);
          return {
            status: 'success' as const,
            data: {
              number: r.number,
              assistantId: r.assistantId,
              assistantApiKey: a.assistantApiKey,
              createdAt: r.createdAt,
            },
          };
        },
      );
    app.delete(
      '/api/v1/account/number-routing/:number',
      {
        schema: {
          tags,
          summary: 'Remove a number route',
          params: Type.Object({ number: Type.String() }),
          response: responses(Type.Object({ deleted: Type.Boolean() })),
        },
      },
      async (req) => {
        if (!(await s.numberRouting.delete(req.tenant.id, req.params.number))) {
          throw new EngineError('NOT_FOUND', 'Number route not found');
        }
        return { status: 'success' as const, data: { deleted: true } };
      },
    );
    app.get(
      '/api/v1/account/credit',
      {
        schema: { tags, summary: 'Account credit', response: responses(Type.Object({ creditCents: Type.Integer() })) },
      },
      async (req) => ({ status: 'success' as const, data: { creditCents: await s.account.getCredit(req.tenant.id) } }),
    );
  };
}
