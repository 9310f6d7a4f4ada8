import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EngineError } from '../../errors.js';
import { authenticateAdmin } from '../auth.js';
import type { RouteDeps } from '../deps.js';
import { responses } from '../schemas.js';

export const TenantSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.Optional(Type.String()),
  creditCents: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
});
const KeySchema = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  label: Type.String(),
  prefix: Type.String(),
  createdAt: Type.String(),
  revokedAt: Type.Optional(Type.String()),
  lastUsedAt: Type.Optional(Type.String()),
});
const TenantId = Type.Object({ tenantId: Type.String() });

/** /api/v1/admin/tenants: tenant and key management guarded by ADMIN_API_KEY (DESIGN.md 5). */
export function adminRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  const tags = ['admin'];
  const security = [{ adminKey: [] }];
  return async (app) => {
    app.addHook('onRequest', async (req) => authenticateAdmin(deps.config, req));
    const tenant = async (id: string) => {
      const t = await deps.store.tenants.get(id);
      if (!t) throw new EngineError('NOT_FOUND', 'Tenant not found');
      return t;
    };
    app.get(
      '/api/v1/admin/tenants',
      { schema: { tags, security, summary: 'List tenants', response: responses(Type.Array(TenantSchema)) } },
      async () => ({ status: 'success' as const, data: await deps.store.tenants.list() }),
    );
    app.post(
      '/api/v1/admin/tenants',
      {
        schema: {
          tags,
          security,
          summary: 'Create a tenant; answers its first portal API key, shown once',
          body: Type.Object(
            {
              email: Type.String({ minLength: 3, maxLength: 320, pattern: '^[^\\s@]+@[^\\s@]+$' }),
              name: Type.Optional(Type.String({ maxLength: 200 })),
              creditCents: Type.Optional(Type.Integer({ minimum: 0 })),
            },
            { additionalProperties: false },
          ),
          response: responses(Type.Object({ tenant: TenantSchema, portalApiKey: Type.String(), key: KeySchema }), 201),
        },
      },
      async (req, reply) => {
        if (await deps.store.tenants.getByEmail(req.body.email)) {
          throw new EngineError('CONFLICT', `A tenant with email ${req.body.email} exists`);
        }
        const t = await deps.store.tenants.create(req.body);
        const { key, secret } = await deps.store.apiKeys.create(t.id, { label: 'production' });
        reply.status(201);
        return { status: 'success' as const, data: { tenant: t, portalApiKey: secret, key } };
      },
    );
    app.get(
      '/api/v1/admin/tenants/:tenantId',
      {
        schema: {
          tags,
          security,
          summary: 'Get a tenant with its keys',
          params: TenantId,
          response: responses(Type.Object({ tenant: TenantSchema, keys: Type.Array(KeySchema) })),
        },
      },
      async (req) => {
        const t = await tenant(req.params.tenantId);
        return { status: 'success' as const, data: { tenant: t, keys: await deps.store.apiKeys.list(t.id) } };
      },
    );
    app.post(
      '/api/v1/admin/tenants/:tenantId/keys',
      {
        schema: {
          tags,
          security,
          summary: 'Issue another key for a tenant (shown once)',
          params: TenantId,
          body: Type.Object({ label: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }),
          response: responses(Type.Object({ portalApiKey: Type.String(), key: KeySchema }), 201),
        },
      },
      async (req, reply) => {
        const t = await tenant(req.params.tenantId);
        const { key, secret } = await deps.store.apiKeys.create(t.id, { label: req.body.label ?? 'production' });
        reply.status(201);
        return { status: 'success' as const, data: { portalApiKey: secret, key } };
      },
    );
    app.delete(
      '/api/v1/admin/tenants/:tenantId/keys/:keyId',
      {
        schema: {
          tags,
          security,
          summary: 'Revoke a key',
          params: Type.Object({ tenantId: Type.String(), keyId: Type.String() }),
          response: responses(Type.Object({ revoked: Type.Boolean() })),
        },
      },
      async (req) => {
        const ok = await deps.store.apiKeys.revoke(req.params.tenantId, req.params.keyId);
        if (!ok) throw new EngineError('NOT_FOUND', 'Key not found');
        return { status: 'success' as const, data: { revoked: true } };
      },
    );
    app.post(
      '/api/v1/admin/tenants/:tenantId/credit',
      {
        schema: {
          tags,
          security,
          summary: 'Recharge a tenant (recorded in analytics/recharges)',
          params: TenantId,
          body: Type.Object(
            {
              amountCents: Type.Integer({ minimum: 1, maximum: 100_000_000 }),
              note: Type.Optional(Type.String({ maxLength: 200 })),
            },
            { additionalProperties: false },
          ),
          response: responses(Type.Object({ creditCents: Type.Integer() })),
        },
      },
      async (req) => {
        const t = await tenant(req.params.tenantId);
        return {
          status: 'success' as const,
          data: { creditCents: await deps.store.account.addCredit(t.id, req.body.amountCents, req.body.note) },
        };
      },
    );
  };
}
