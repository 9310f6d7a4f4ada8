import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { createCampaignRunner } from '../campaigns/runner.js';
import { createOutboundWorker } from '../channels/worker.js';
import { registerConsole } from '../console/route.js';
import { errorBody } from '../errors.js';
import { scrape } from '../observability/metrics-http.js';
import { newId } from '../store/ids.js';
import { businessRoutes } from './business.js';
import { isTrustedProxy, parseTrustProxy } from './client-ip.js';
import type { TenantContext } from './context.js';
import type { AppDeps, RouteDeps } from './deps.js';
import { registerDocs } from './docs.js';
import { installErrorHandler } from './error-handler.js';
import { refuseTenantCommands } from './mcp-policy.js';
import { createTokenBucketLimiter } from './rate-limit.js';
import { adminRoutes } from './routes/admin.js';
import { carrierRoutes } from './routes/carrier.js';
import { publicRoutes } from './routes/public.js';
import { whatsappWebhookRoutes } from './routes/whatsapp.js';

export type { AppDeps, CatalogLike, LiveCalls, RouteDeps, ToolCatalogLike } from './deps.js';

/** Assistant keys and other secrets in URLs, shown by their first characters only in logs. */
export function maskUrl(url: string): string {
  return url.replace(/\b(ast|vek|whsec)_([A-Za-z0-9_-]{4})[A-Za-z0-9_-]*/g, '$1_$2…');
}

/**
 * Paths outside the per-IP rate limit: load balancer probes, the API docs, and carrier callbacks (signed by the
 * carrier, and a busy outbound campaign's status callbacks, like Meta's WhatsApp webhooks, come from a few IPs).
 */
const UNLIMITED = /^\/(health|metrics|console|docs|openapi\.(json|yaml)|webhook\/(twilio\/status|whatsapp))(\/|\?|$)/;

/**
 * The control API (DESIGN.md 5) as a Fastify instance that does not listen: the composition root or a test calls
 * `listen()`. Media WebSocket endpoints are attached by the gateway to the same server.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const proxies = parseTrustProxy(deps.config.trustProxy);
  if (proxies.refused.length > 0) {
    deps.logger.warn(
      { refused: proxies.refused },
      'TRUST_PROXY takes proxy IPs/CIDRs only; these entries are ignored (X-Forwarded-For is not believed from them)',
    );
  }
  // Tenant HTTP tools and webhooks may reach loopback and private networks unless EGRESS_BLOCK_PRIVATE is on: fine
  // for one operator running their own tenant, a hole between tenants on a shared engine (SECURITY.md, Egress).
  if (!deps.config.egress.blockPrivate && (await deps.store.tenants.count()) > 1) {
    deps.logger.warn(
      'more than one tenant and EGRESS_BLOCK_PRIVATE is off: tenant URLs (HTTP tools, webhooks) can reach loopback and private networks; set EGRESS_BLOCK_PRIVATE=true',
    );
  }
  const app = Fastify({
    loggerInstance: deps.logger,
    requestIdHeader: 'x-request-id',
    ...(proxies.cidrs.length > 0 ? { trustProxy: (address: string) => isTrustedProxy(proxies, address) } : {}),
    // Slow clients cannot hold connections open: the whole request (headers and body) must arrive within
    // requestTimeout (408 and close otherwise), and a connection with no traffic at all is closed after
    // connectionTimeout. Node checks requestTimeout every connectionsCheckingInterval; upgraded (media WebSocket)
    // sockets leave the HTTP server's bookkeeping and are not affected.
    requestTimeout: deps.config.httpRequestTimeoutMs,
    connectionTimeout: deps.config.httpIdleTimeoutMs,
    // Node ignores requestTimeout while headersTimeout (60 s by default) is larger: keep headers within it too.
    http: {
      headersTimeout: Math.min(60_000, deps.config.httpRequestTimeoutMs),
      connectionsCheckingInterval: Math.max(50, Math.min(30_000, deps.config.httpRequestTimeoutMs / 4)),
    },
    // Fastify's default request log prints the raw URL, which carries assistant keys (ast_…) in AI4CALL paths;
    // one structured line per request is written in onResponse below with keys masked.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => newId('req', 9),
    ajv: {
      customOptions: {
        // Unknown fields are an error naming the field, not silently dropped; defaults stay documentation so a
        // stored assistant keeps only what the user set (defaults can then improve without a migration).
        removeAdditional: false,
        useDefaults: false,
        coerceTypes: 'array',
        allErrors: true,
        // Multipart bodies are parsed and checked in their handler; their schema documents the form only and has no
        // `type` (src/api/routes/rag.ts), which ajv's strictTypes would log at every start.
        strictTypes: false,
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Response schemas document the API (OpenAPI); serialization stays JSON.stringify so no field is ever dropped.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  const base = app as unknown as FastifyInstance;
  // Declared up front so every request object has the same shape; set by auth in the business scope.
  app.decorateRequest('tenant', null as unknown as TenantContext);
  installErrorHandler(base);

  const rateLimiter = deps.rateLimiter ?? createTokenBucketLimiter(deps.config.rateLimitPerMinute);
  const outbound = deps.dialer
    ? createOutboundWorker({
        store: deps.store,
        dialer: deps.dialer,
        logger: deps.logger,
        ...(deps.webhooks ? { webhooks: deps.webhooks } : {}),
        ...(deps.engineId ? { engineId: deps.engineId } : {}),
      })
    : undefined;
  const rd: RouteDeps = { ...deps, rateLimiter, ...(outbound ? { outbound } : {}) };

  // Anonymous requests are counted per client IP here. Routes that authenticate a tenant (ACCOUNT_LIMITED, the
  // business scope) count per account instead once the credentials check out, and per IP when they do not, so one
  // tenant's flood never spends another tenant's budget even when both sit behind one NAT (src/api/business.ts).
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (UNLIMITED.test(request.url) || request.routeOptions.config?.accountLimited === true) return;
    const r = await rateLimiter.take(`ip:${request.ip}`);
    if (!r.ok) {
      reply.header('retry-after', String(r.retryAfterSec));
      return reply.status(429).send(errorBody('RATE_LIMITED', `Too many requests; retry after ${r.retryAfterSec} s`));
    }
  });

  app.addHook('preValidation', refuseTenantCommands);

  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        url: maskUrl(request.url),
        statusCode: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ...(request.tenant ? { tenantId: request.tenant.id } : {}),
      },
      'request',
    );
    // The route template (bounded label set), never the raw URL, which carries ids and keys.
    deps.observe?.request(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime);
  });
  const endpoint = deps.observe?.endpoint;
  if (endpoint) {
    app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
      const r = await scrape(endpoint, request.headers.authorization);
      return reply.status(r.status).type(r.contentType).send(r.body);
    });
  }

  await registerDocs(base);
  registerConsole(base);
  await app.register(publicRoutes(rd));
  await app.register(adminRoutes(rd));
  await app.register(carrierRoutes(rd));
  await app.register(whatsappWebhookRoutes(rd));
  await app.register(businessRoutes(rd));

  if (outbound) {
    // Campaigns (src/campaigns) feed the same queue.
    const campaigns = createCampaignRunner({
      store: deps.store,
      logger: deps.logger,
      ...(deps.webhooks ? { webhooks: deps.webhooks } : {}),
      poke: () => outbound.poke(),
    });
    app.addHook('onReady', async () => {
      outbound.start();
      campaigns.start();
    });
    app.addHook('onClose', async () => {
      await campaigns.stop();
      await outbound.stop();
    });
  }
  return base;
}
