import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/**
 * OpenAPI 3 generated from the route schemas (every route declares TypeBox schemas), served at /openapi.json and
 * /openapi.yaml, with Swagger UI at /docs. Must be registered before the routes so it sees them.
 */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Voice engine control API',
        version: '1.0.0',
        description:
          'AI4CALL-style (x-client-email + x-portal-api-key, assistantApiKey in paths) and CallAI-style ' +
          '(Authorization: Bearer) control API. Errors: {"status":"error","error":{"code","message"}}. ' +
          'Webhooks are signed: X-Webhook-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>, ' +
          'X-Webhook-Id: <event id, stable across retries>, X-Webhook-Timestamp: <unix s>.',
      },
      components: {
        securitySchemes: {
          portalKey: { type: 'apiKey', in: 'header', name: 'x-portal-api-key' },
          clientEmail: { type: 'apiKey', in: 'header', name: 'x-client-email' },
          bearer: { type: 'http', scheme: 'bearer' },
          adminKey: { type: 'apiKey', in: 'header', name: 'x-admin-api-key' },
        },
      },
      security: [{ portalKey: [], clientEmail: [] }, { bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/openapi.yaml', { schema: { hide: true } }, async (_req, reply) => {
    reply.type('application/yaml');
    return app.swagger({ yaml: true });
  });
}
