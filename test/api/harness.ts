import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type AppDeps, buildApp, type CatalogLike } from '../../src/api/app.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { type Catalog, ProviderCatalog } from '../../src/providers/catalog.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createToolRegistry } from '../../src/tools/registry.js';

/** Compile-time check: the registry's Catalog satisfies what the API needs. */
export const catalogFits = (c: Catalog): CatalogLike => c;

export interface Tenant {
  id: string;
  email: string;
  key: string;
  keyId: string;
  h: Record<string, string>;
}

export interface Harness {
  url: string;
  app: FastifyInstance;
  store: Store;
  dir: string;
  a: Tenant;
  b: Tenant;
  applied: string[];
  call(
    method: string,
    p: string,
    opts?: { headers?: Record<string, string>; body?: unknown },
    // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, asserted field by field in the tests
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/**
 * The tenant buys the twilio plugin and points it at a loopback Twilio fake (its account sid and token, its url),
 * calling from +15550001111, through the account API.
 */
export async function useTwilioFake(
  h: Harness,
  tenant: Tenant,
  creds: { sid: string; token: string },
  baseUrl: string,
): Promise<void> {
  await h.call('POST', '/api/v1/account/plugins/purchase', { headers: tenant.h, body: { pluginId: 'twilio' } });
  await h.call('PUT', '/api/v1/account/plugins/configuration/twilio', {
    headers: tenant.h,
    body: { accountSid: creds.sid, authToken: creds.token, fromNumber: '+15550001111', baseUrl },
  });
}

export async function startHarness(
  extra: Partial<AppDeps> | ((store: Store) => Partial<AppDeps>) = {},
  env: Record<string, string> = {},
): Promise<Harness> {
  const dir = mkdtempSync(path.join(tmpdir(), 'api-'));
  const store = openStore({ dataDir: dir });
  const config = loadConfig({ DATA_DIR: dir, RATE_LIMIT_PER_MINUTE: '100000', ADMIN_API_KEY: 'admin-secret', ...env });
  const applied: string[] = [];
  const app = await buildApp({
    config,
    store,
    logger: silentLogger,
    // The real provider catalog (no keys: curated lists, no network) and the real tool registry.
    providers: { catalog: new ProviderCatalog(config, silentLogger) },
    tools: createToolRegistry(),
    live: { activeCalls: () => 0, draining: () => false, applyAssistantChange: (id) => applied.push(id) },
    ...(typeof extra === 'function' ? extra(store) : extra),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const mk = async (email: string): Promise<Tenant> => {
    const t = await store.tenants.create({ email });
    const { key, secret } = await store.apiKeys.create(t.id);
    return { id: t.id, email, key: secret, keyId: key.id, h: { 'x-client-email': email, 'x-portal-api-key': secret } };
  };
  const a = await mk('a@example.com');
  const b = await mk('b@example.com');
  return {
    url,
    app,
    store,
    dir,
    a,
    b,
    applied,
    async call(method, p, opts = {}) {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      if (opts.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(url + p, {
        method,
        headers,
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // non-JSON (HTML, YAML, audio)
      }
      return { status: res.status, body, headers: res.headers };
    },
    async close() {
      await app.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
