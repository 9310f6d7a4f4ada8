import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { EngineError } from '../errors.js';
import { authenticate } from './auth.js';
import type { RouteDeps } from './deps.js';
import { isIpAllowed } from './ip-allowlist.js';
import { accountRoutes } from './routes/account.js';
import { analyticsRoutes } from './routes/analytics.js';
import { assistantRoutes } from './routes/assistants.js';
import { callRoutes } from './routes/calls.js';
import { campaignRoutes } from './routes/campaigns.js';
import { catalogRoutes } from './routes/catalog.js';
import { keyRoutes } from './routes/keys.js';
import { liveCallRoutes } from './routes/live-calls.js';
import { outboundRoutes } from './routes/outbound.js';
import { pluginRoutes } from './routes/plugins.js';
import { runtimeRoutes } from './routes/runtime.js';
import { smsRoutes } from './routes/sms.js';
import { webhookRoutes } from './routes/webhooks.js';
import { whatsappRoutes } from './routes/whatsapp.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on every business route: rate limited per account after authentication, not per IP before it. */
    accountLimited?: boolean;
  }
}

/**
 * Every business route lives in this scope: authenticated (request.tenant set), checked against the tenant's IP
 * allowlist, and rate limited: per account when the credentials are good (so tenants behind one NAT do not share a
 * budget), per client IP when they are missing or wrong or the IP is not allowed (so guessing keys is limited).
 */
export function businessRoutes(deps: RouteDeps): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRoute', (route) => {
      route.config = { ...route.config, accountLimited: true };
    });
    const limit = async (key: string, reply: FastifyReply, what: string): Promise<void> => {
      const r = await deps.rateLimiter.take(key);
      if (!r.ok) {
        reply.header('retry-after', String(r.retryAfterSec));
        throw new EngineError('RATE_LIMITED', `Too many requests ${what}; retry after ${r.retryAfterSec} s`);
      }
    };
    app.addHook('onRequest', async (request, reply) => {
      try {
        await authenticate(deps.store, request);
        if (!(await isIpAllowed(deps.store, request.tenant.id, request.ip))) {
          throw new EngineError('IP_NOT_ALLOWED', `IP ${request.ip} is not in this account's allowlist`);
        }
      } catch (err) {
        await limit(`ip:${request.ip}`, reply, 'from this address');
        throw err;
      }
      await limit(`acct:${request.tenant.id}`, reply, 'for this account');
    });
    await app.register(assistantRoutes(deps));
    await app.register(runtimeRoutes(deps));
    await app.register(catalogRoutes(deps));
    await app.register(accountRoutes(deps));
    await app.register(keyRoutes(deps));
    await app.register(pluginRoutes(deps));
    await app.register(analyticsRoutes(deps));
    await app.register(callRoutes(deps));
    await app.register(outboundRoutes(deps));
    await app.register(campaignRoutes(deps));
    await app.register(smsRoutes(deps));
    await app.register(whatsappRoutes(deps));
    await app.register(liveCallRoutes(deps));
    await app.register(webhookRoutes(deps));
    // The seed places document upload, deletion and the cost estimate under /api/v1/catalog/rag/ too: every
    // knowledge route registered below (src/api/routes/rag.ts) is also served under that prefix.
    app.addHook('onRoute', function alias(r) {
      if (
        r.method === 'HEAD' ||
        !r.url.startsWith('/api/v1/rag/') ||
        (r.config as { aliasOf?: string } | undefined)?.aliasOf
      )
        return;
      const url = r.url.replace('/api/v1/rag/', '/api/v1/catalog/rag/');
      // `this` is the plugin's own scope, so the alias keeps its decorators (multipart) and hooks.
      this.route({
        ...r,
        url,
        path: undefined,
        prefix: undefined,
        config: { ...(r.config ?? {}), aliasOf: r.url },
      } as never);
    });
    for (const plugin of deps.extraRoutes ?? []) await app.register(plugin);
  };
}
