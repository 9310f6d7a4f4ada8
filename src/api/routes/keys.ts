import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { EngineError } from '../../errors.js';
import type { ApiKeyRecord } from '../../store/index.js';
import type { RouteDeps } from '../deps.js';
import { responses } from '../schemas.js';

const Env = Type.Union([Type.Literal('production'), Type.Literal('test')]);
const KeySchema = Type.Object({
  id: Type.String(),
  label: Type.String(),
  prefix: Type.String(),
  environment: Env,
  createdAt: Type.String(),
  revokedAt: Type.Optional(Type.String()),
  lastUsedAt: Type.Optional(Type.String()),
});

/**
 * The account's portal API keys, each in one environment (test mode, like Stripe's): a production key reaches the
 * live data and carriers; a test key reaches only the account's test twin (its own assistants, calls, analytics,
 * webhooks...) and only the simulated carrier (src/channels/simulated.ts). Keys are managed with a production key.
 */
export function keyRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  const tags = ['account'];
  const s = deps.store;
  const live = (req: FastifyRequest) => {
    if (req.tenant.environment === 'test') {
      throw new EngineError('FORBIDDEN', 'Keys are managed with a production key; this is a test key');
    }
    return req.tenant.id;
  };
  const view = (k: ApiKeyRecord, environment: 'production' | 'test') => {
    const { tenantId: _t, ...rest } = k;
    return { ...rest, environment };
  };
  return async (app) => {
    app.get(
      '/api/v1/account/api-keys',
      {
        schema: {
          tags,
          summary: 'Your portal API keys in both environments (never the secrets)',
          response: responses(Type.Array(KeySchema)),
        },
      },
      async (req) => {
        const id = live(req);
        const twin = await s.tenants.testTwin(id);
        const [prod, test] = await Promise.all([s.apiKeys.list(id), s.apiKeys.list(twin.id)]);
        return {
          status: 'success' as const,
          data: [...prod.map((k) => view(k, 'production')), ...test.map((k) => view(k, 'test'))],
        };
      },
    );
    app.post(
      '/api/v1/account/api-keys',
      {
        schema: {
          tags,
          summary: 'Issue a key for an environment (test keys see only test data and never reach a carrier)',
          body: Type.Object(
            {
              label: Type.Optional(Type.String({ maxLength: 64 })),
              environment: Type.Optional(
                Type.Union([Type.Literal('production'), Type.Literal('test')], {
                  description: "Default: 'test' when the label is 'test' or absent, else 'production'",
                }),
              ),
            },
            { additionalProperties: false },
          ),
          response: responses(Type.Object({ portalApiKey: Type.String(), key: KeySchema }), 201),
        },
      },
      async (req, reply) => {
        const id = live(req);
        const label = req.body.label;
        const environment = req.body.environment ?? (label === undefined || label === 'test' ? 'test' : 'production');
        const owner = environment === 'test' ? (await s.tenants.testTwin(id)).id : id;
        const { key, secret } = await s.apiKeys.create(owner, { label: label ?? environment });
        reply.status(201);
        return { status: 'success' as const, data: { portalApiKey: secret, key: view(key, environment) } };
      },
    );
    app.delete(
      '/api/v1/account/api-keys/:keyId',
      {
        schema: {
          tags,
          summary: 'Revoke a key (either environment)',
          params: Type.Object({ keyId: Type.String() }),
          response: responses(Type.Object({ revoked: Type.Boolean() })),
        },
      },
      async (req) => {
        const id = live(req);
        const twin = await s.tenants.testTwin(id);
        const revoked =
          (await s.apiKeys.revoke(id, req.params.keyId)) || (await s.apiKeys.revoke(twin.id, req.params.keyId));
        if (!revoked) throw new EngineError('NOT_FOUND', 'Key not found');
        return { status: 'success' as const, data: { revoked: true } };
      },
    );
  };
}
