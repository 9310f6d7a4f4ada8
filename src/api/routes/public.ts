import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type TSchema, Type } from 'typebox';
import { EngineError } from '../../errors.js';
import { createLocalStorage } from '../../storage/local.js';
import type { RouteDeps } from '../deps.js';
import { createRecordingLinks, sendRecording } from '../recording-link.js';
import { ErrorSchema, responses } from '../schemas.js';

const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('draining'), Type.Literal('error')]),
  db: Type.Boolean(),
  dataDir: Type.Boolean(),
  draining: Type.Boolean(),
  activeCalls: Type.Integer(),
  uptimeSec: Type.Number(),
});

/** Unauthenticated routes: the load-balancer probe and portal login. */
export function publicRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  const links = createRecordingLinks(deps.config);
  return async (app) => {
    app.get(
      '/recordings/:file',
      {
        schema: {
          tags: ['calls'],
          summary: "A call's recording through the signed, expiring link of its call.ended webhook (no credentials)",
          security: [],
          params: Type.Object({ file: Type.String({ pattern: '^c_[A-Za-z0-9_-]{1,64}\\.wav$' }) }),
          querystring: Type.Object({ expires: Type.String(), sig: Type.String() }),
          response: { 200: Type.String({ format: 'binary' }), '4xx': ErrorSchema } as Record<string, TSchema>,
        },
      },
      async (req, reply) => {
        const callId = req.params.file.slice(0, -'.wav'.length);
        // One answer for a bad signature, an expired link and an unknown call: nothing to probe.
        const call = links.verify(callId, req.query.expires, req.query.sig)
          ? await deps.store.calls.find(callId)
          : undefined;
        if (!call) throw new EngineError('FORBIDDEN', 'Invalid or expired recording link');
        return sendRecording(reply, deps.files ?? createLocalStorage(deps.config.dataDir), call);
      },
    );
    app.get(
      '/health',
      {
        schema: {
          tags: ['platform'],
          summary: 'Liveness and readiness: 503 while draining or when the DB / data dir is unusable',
          security: [],
          response: { 200: HealthSchema, 503: HealthSchema },
        },
      },
      async (_req, reply) => {
        const db = await deps.store.ping().catch(() => false);
        const dataDir = await access(deps.config.dataDir, constants.W_OK).then(
          () => true,
          () => false,
        );
        const draining = deps.live?.draining() ?? false;
        const ok = db && dataDir && !draining;
        reply.status(ok ? 200 : 503);
        return {
          status: ok ? ('ok' as const) : draining ? ('draining' as const) : ('error' as const),
          db,
          dataDir,
          draining,
          activeCalls: deps.live?.activeCalls() ?? 0,
          uptimeSec: Math.round(process.uptime()),
        };
      },
    );
    app.post(
      '/api/v1/auth/portal/login',
      {
        schema: {
          tags: ['auth'],
          summary: 'Check portal credentials (AI4CALL login)',
          security: [],
          body: Type.Object({ email: Type.String({ minLength: 1 }), portalApiKey: Type.String({ minLength: 1 }) }),
          response: {
            ...responses(
              Type.Object({
                tenantId: Type.String(),
                email: Type.String(),
                keyId: Type.String(),
                environment: Type.Union([Type.Literal('production'), Type.Literal('test')]),
                headers: Type.Record(Type.String(), Type.String()),
              }),
            ),
            401: ErrorSchema,
          } as Record<string, TSchema>,
        },
      },
      async (req) => {
        const match = await deps.store.apiKeys.verify(req.body.portalApiKey);
        if (!match || match.tenant.email.toLowerCase() !== req.body.email.trim().toLowerCase()) {
          throw new EngineError('UNAUTHORIZED', 'Invalid email or portal API key');
        }
        return {
          status: 'success' as const,
          data: {
            tenantId: match.tenant.id,
            email: match.tenant.email,
            keyId: match.keyId,
            environment: match.tenant.environment,
            // The API is stateless: every call carries these headers (or Authorization: Bearer <portalApiKey>).
            headers: { 'x-client-email': match.tenant.email, 'x-portal-api-key': '<your portalApiKey>' },
          },
        };
      },
    );
  };
}
