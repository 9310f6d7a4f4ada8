import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EngineError } from '../../errors.js';
import type { WebhookEndpoint } from '../../store/index.js';
import type { RouteDeps } from '../deps.js';
import { assertEgressUrl } from '../egress-check.js';
import { PageQuery, page, responses } from '../schemas.js';

const EventType = Type.Union([
  Type.Literal('call.started'),
  Type.Literal('call.ended'),
  Type.Literal('call.failed'),
  Type.Literal('whatsapp.message'),
  Type.Literal('campaign.row'),
  Type.Literal('campaign.completed'),
  Type.Literal('campaign.paused'),
  Type.Literal('campaign.resumed'),
  Type.Literal('campaign.cancelled'),
]);
const Url = Type.String({ pattern: '^https?://', maxLength: 2000 });
const EndpointSchema = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  description: Type.Optional(Type.String()),
  enabled: Type.Boolean(),
  secret: Type.Optional(Type.String({ description: 'Signing secret: returned in full only on creation' })),
  secretPrefix: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const AttemptSchema = Type.Object({
  id: Type.Integer(),
  deliveryId: Type.String(),
  eventId: Type.String(),
  type: Type.String(),
  attempt: Type.Integer(),
  at: Type.String(),
  ok: Type.Boolean(),
  statusCode: Type.Optional(Type.Integer()),
  error: Type.Optional(Type.String()),
  durationMs: Type.Integer(),
});
const Id = Type.Object({ id: Type.String() });

function view(e: WebhookEndpoint, withSecret = false) {
  const { tenantId: _t, secret, ...rest } = e;
  return { ...rest, secretPrefix: `${secret.slice(0, 10)}…`, ...(withSecret ? { secret } : {}) };
}

/** /api/v1/webhooks: endpoint CRUD and delivery attempts (CallAI style). */
export function webhookRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  const tags = ['webhooks'];
  const w = deps.store.webhooks;
  const mine = async (tenantId: string, id: string) => {
    const e = await w.getEndpoint(tenantId, id);
    if (!e) throw new EngineError('NOT_FOUND', 'Webhook endpoint not found');
    return e;
  };
  return async (app) => {
    app.get(
      '/api/v1/webhooks',
      { schema: { tags, summary: 'Webhook endpoints', response: responses(Type.Array(EndpointSchema)) } },
      async (req) => ({ status: 'success' as const, data: (await w.listEndpoints(req.tenant.id)).map((e) => view(e)) }),
    );
    app.post(
      '/api/v1/webhooks',
      {
        schema: {
          tags,
          summary: 'Add an endpoint; the answer carries its signing secret once',
          body: Type.Object(
            {
              url: Url,
              events: Type.Array(EventType, { minItems: 1 }),
              description: Type.Optional(Type.String({ maxLength: 500 })),
              enabled: Type.Optional(Type.Boolean()),
            },
            { additionalProperties: false },
          ),
          response: responses(EndpointSchema, 201),
        },
      },
      async (req, reply) => {
        assertEgressUrl('url', req.body.url, deps.config.egress);
        const e = await w.createEndpoint(req.tenant.id, req.body);
        reply.status(201);
        return { status: 'success' as const, data: view(e, true) };
      },
    );
    app.get(
      '/api/v1/webhooks/:id',
      { schema: { tags, summary: 'An endpoint', params: Id, response: responses(EndpointSchema) } },
      async (req) => ({ status: 'success' as const, data: view(await mine(req.tenant.id, req.params.id)) }),
    );
    app.patch(
      '/api/v1/webhooks/:id',
      {
        schema: {
          tags,
          summary: 'Update an endpoint',
          params: Id,
          body: Type.Object(
            {
              url: Type.Optional(Url),
              events: Type.Optional(Type.Array(EventType, { minItems: 1 })),
              description: Type.Optional(Type.String({ maxLength: 500 })),
              enabled: Type.Optional(Type.Boolean()),
            },
            { additionalProperties: false },
          ),
          response: responses(EndpointSchema),
        },
      },
      async (req) => {
        if (req.body.url !== undefined) assertEgressUrl('url', req.body.url, deps.config.egress);
        const e = await w.updateEndpoint(req.tenant.id, req.params.id, req.body);
        if (!e) throw new EngineError('NOT_FOUND', 'Webhook endpoint not found');
        return { status: 'success' as const, data: view(e) };
      },
    );
    app.delete(
      '/api/v1/webhooks/:id',
      {
        schema: {
          tags,
          summary: 'Delete an endpoint (its pending deliveries are dropped)',
          params: Id,
          response: responses(Type.Object({ deleted: Type.Boolean() })),
        },
      },
      async (req) => {
        if (!(await w.deleteEndpoint(req.tenant.id, req.params.id)))
          throw new EngineError('NOT_FOUND', 'Webhook endpoint not found');
        return { status: 'success' as const, data: { deleted: true } };
      },
    );
    app.get(
      '/api/v1/webhooks/:id/deliveries',
      {
        schema: {
          tags,
          summary: 'Delivery attempts, newest first',
          params: Id,
          querystring: PageQuery,
          response: responses(page(AttemptSchema)),
        },
      },
      async (req) => {
        await mine(req.tenant.id, req.params.id);
        return { status: 'success' as const, data: await w.listAttempts(req.tenant.id, req.params.id, req.query) };
      },
    );
  };
}
