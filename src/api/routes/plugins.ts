import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EngineError } from '../../errors.js';
import type { PluginInstance } from '../../store/index.js';
import type { RouteDeps } from '../deps.js';
import { assertEgressHost, assertEgressUrl } from '../egress-check.js';
import { maskConfig, PLUGINS, pluginSpec } from '../plugin-catalog.js';
import { responses } from '../schemas.js';

const SpecSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  priceCents: Type.Integer(),
  description: Type.String(),
  config: Type.Array(
    Type.Object({
      name: Type.String(),
      required: Type.Boolean(),
      secret: Type.Optional(Type.Boolean()),
      description: Type.String(),
    }),
  ),
});
const InstanceSchema = Type.Object({
  pluginId: Type.String(),
  status: Type.String(),
  config: Type.Record(Type.String(), Type.Unknown()),
  activatedAt: Type.Optional(Type.String()),
  updatedAt: Type.String(),
});
const PluginId = Type.Object({ pluginId: Type.String() });
const ConfigBody = Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]));

function view(i: PluginInstance) {
  const spec = pluginSpec(i.pluginId);
  return {
    pluginId: i.pluginId,
    status: i.status,
    config: spec ? maskConfig(spec, i.config) : {},
    ...(i.activatedAt ? { activatedAt: i.activatedAt } : {}),
    updatedAt: i.updatedAt,
  };
}

/** /api/v1/account/plugins: integrations available, the tenant's instances, their configuration, purchase. */
export function pluginRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  const tags = ['plugins'];
  const s = deps.store;
  return async (app) => {
    app.get(
      '/api/v1/account/plugins/available',
      { schema: { tags, summary: 'Plugins that can be purchased', response: responses(Type.Array(SpecSchema)) } },
      async () => ({ status: 'success' as const, data: [...PLUGINS] }),
    );
    app.get(
      '/api/v1/account/plugins/instances',
      { schema: { tags, summary: 'Your plugin instances', response: responses(Type.Array(InstanceSchema)) } },
      async (req) => ({ status: 'success' as const, data: (await s.account.listPlugins(req.tenant.id)).map(view) }),
    );
    // POST kept; the seed documents PATCH /account/plugins/purchase.
    for (const verb of ['post', 'patch'] as const)
      app[verb](
        '/api/v1/account/plugins/purchase',
        {
          schema: {
            tags,
            summary: 'Activate a plugin against the account credit (402 INSUFFICIENT_CREDIT)',
            body: Type.Object({ pluginId: Type.String() }, { additionalProperties: false }),
            response: responses(Type.Object({ instance: InstanceSchema, creditCents: Type.Integer() })),
          },
        },
        async (req) => {
          const spec = pluginSpec(req.body.pluginId);
          if (!spec) throw new EngineError('NOT_FOUND', `Unknown plugin '${req.body.pluginId}'`);
          const existing = await s.account.getPlugin(req.tenant.id, spec.id);
          if (existing?.status !== 'active') {
            const r = await s.account.purchasePlugin(req.tenant.id, spec.id, spec.priceCents);
            if (r === 'insufficient') {
              const credit = await s.account.getCredit(req.tenant.id);
              throw new EngineError(
                'INSUFFICIENT_CREDIT',
                `Plugin '${spec.id}' costs ${spec.priceCents} cents; credit is ${credit}`,
              );
            }
          }
          return {
            status: 'success' as const,
            data: {
              instance: view((await s.account.getPlugin(req.tenant.id, spec.id))!),
              creditCents: await s.account.getCredit(req.tenant.id),
            },
          };
        },
      );
    app.get(
      '/api/v1/account/plugins/configuration/:pluginId',
      {
        schema: {
          tags,
          summary: "A plugin instance's configuration (secrets masked)",
          params: PluginId,
          response: responses(InstanceSchema),
        },
      },
      async (req) => {
        const i = await s.account.getPlugin(req.tenant.id, req.params.pluginId);
        if (!i) throw new EngineError('NOT_FOUND', `Plugin '${req.params.pluginId}' is not purchased`);
        return { status: 'success' as const, data: view(i) };
      },
    );
    for (const verb of ['put', 'patch'] as const)
      app[verb](
        '/api/v1/account/plugins/configuration/:pluginId',
        {
          schema: {
            tags,
            summary: 'Configure a purchased plugin (fields merge; see /available for the fields)',
            params: PluginId,
            body: ConfigBody,
            response: responses(InstanceSchema),
          },
        },
        async (req) => ({
          status: 'success' as const,
          data: await configure(req.tenant.id, req.params.pluginId, req.body),
        }),
      );
    app.get(
      '/api/v1/account/plugins/configuration',
      {
        schema: {
          tags,
          summary: 'Configuration of every purchased plugin (secrets masked)',
          response: responses(Type.Array(InstanceSchema)),
        },
      },
      async (req) => ({ status: 'success' as const, data: (await s.account.listPlugins(req.tenant.id)).map(view) }),
    );
    app.patch(
      '/api/v1/account/plugins/configuration',
      {
        schema: {
          tags,
          summary: 'Configure a purchased plugin named in the body (fields merge)',
          body: Type.Object({ pluginId: Type.String(), config: ConfigBody }, { additionalProperties: false }),
          response: responses(InstanceSchema),
        },
      },
      async (req) => ({
        status: 'success' as const,
        data: await configure(req.tenant.id, req.body.pluginId, req.body.config),
      }),
    );
  };

  /** Merges `body` into the tenant's instance of `pluginId`: known fields only, URLs and hosts egress-checked. */
  async function configure(tenantId: string, pluginId: string, body: Record<string, string | number | boolean>) {
    const spec = pluginSpec(pluginId);
    const cur = await s.account.getPlugin(tenantId, pluginId);
    if (!spec || !cur) throw new EngineError('NOT_FOUND', `Plugin '${pluginId}' is not purchased`);
    const unknown = Object.keys(body).filter((k) => !spec.config.some((f) => f.name === k));
    if (unknown.length > 0) {
      throw new EngineError(
        'VALIDATION_FAILED',
        `Unknown field(s) for plugin '${spec.id}': ${unknown.join(', ')}`,
        unknown.map((f) => ({ in: 'body', field: f, instancePath: `/${f}`, message: 'is not a field of this plugin' })),
      );
    }
    // Fields the engine connects to (baseUrl, ariUrl; the FreeSWITCH ESL host): checked against the egress policy.
    for (const [k, v] of Object.entries(body)) {
      if (k.endsWith('Url')) assertEgressUrl(k, v, deps.config.egress);
      else if (spec.id === 'freeswitch' && k === 'host') assertEgressHost(k, v, deps.config.egress);
    }
    const saved = await s.account.configurePlugin(tenantId, spec.id, { ...cur.config, ...body });
    return view(saved!);
  }
}
