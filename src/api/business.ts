import type { FastifyPluginAsync } from 'fastify';
import { EngineError } from '../errors.js';
import type { RouteDeps } from './app.js';
import { authenticate } from './auth.js';
import { isIpAllowed } from './ip-allowlist.js';
import { accountRoutes } from './routes/account.js';
import { analyticsRoutes } from './routes/analytics.js';
import { assistantRoutes } from './routes/assistants.js';
import { callRoutes } from './routes/calls.js';
import { catalogRoutes } from './routes/catalog.js';
import { pluginRoutes } from './routes/plugins.js';
import { runtimeRoutes } from './routes/runtime.js';
import { webhookRoutes } from './routes/webhooks.js';

/**
 * Every business route lives in this scope: authenticated (request.tenant set), checked against the tenant's IP
 * allowlist, and rate limited per account as well as per IP.
 */
export function businessRoutes(deps: RouteDeps): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRequest', async (request, reply) => {
      await authenticate(deps.store, request);
      if (!(await isIpAllowed(deps.store, request.tenant.id, request.ip))) {
        throw new EngineError('IP_NOT_ALLOWED', `IP ${request.ip} is not in this account's allowlist`);
      }
      const r = await deps.rateLimiter.take(`acct:${request.tenant.id}`);
      if (!r.ok) {
        reply.header('retry-after', String(r.retryAfterSec));
        throw new EngineError('RATE_LIMITED', `Too many requests for this account; retry after ${r.retryAfterSec} s`);
      }
    });
    await app.register(assistantRoutes(deps));
    await app.register(runtimeRoutes(deps));
    await app.register(catalogRoutes(deps));
    await app.register(accountRoutes(deps));
    await app.register(pluginRoutes(deps));
    await app.register(analyticsRoutes(deps));
    await app.register(callRoutes(deps));
    await app.register(webhookRoutes(deps));
    for (const plugin of deps.extraRoutes ?? []) await app.register(plugin);
  };
}
