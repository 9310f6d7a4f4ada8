import type { FastifyRequest } from 'fastify';
import type { Assistant } from '../assistant.js';
import type { EngineConfig } from '../config.js';
import { EngineError } from '../errors.js';
import { secretEquals } from '../secret-equal.js';
import type { Store } from '../store/index.js';
import './context.js';

/**
 * Business-route authentication (DESIGN.md 5): AI4CALL headers `x-client-email` + `x-portal-api-key`, or CallAI
 * `Authorization: Bearer <portalApiKey>`. Both resolve to the same hashed-key lookup; the email, when sent, must be
 * the key's tenant. Failures are one 401 whatever the reason, so a caller cannot probe which part was wrong.
 */
export async function authenticate(store: Store, request: FastifyRequest): Promise<void> {
  const h = request.headers;
  const auth = typeof h.authorization === 'string' ? h.authorization : '';
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
  const headerKey = typeof h['x-portal-api-key'] === 'string' ? h['x-portal-api-key'] : undefined;
  const email = typeof h['x-client-email'] === 'string' ? h['x-client-email'] : undefined;
  const secret = headerKey ?? bearer;
  if (!secret) {
    throw new EngineError(
      'UNAUTHORIZED',
      'Missing credentials: send x-client-email + x-portal-api-key, or Authorization: Bearer <portalApiKey>',
    );
  }
  if (headerKey && !email) throw new EngineError('UNAUTHORIZED', 'x-portal-api-key needs x-client-email');
  const match = await store.apiKeys.verify(secret);
  if (!match || (email !== undefined && match.tenant.email.toLowerCase() !== email.trim().toLowerCase())) {
    throw new EngineError('UNAUTHORIZED', 'Invalid or revoked credentials');
  }
  request.tenant = {
    id: match.tenant.id,
    email: match.tenant.email,
    keyId: match.keyId,
    environment: match.tenant.environment,
    ...(match.tenant.liveId ? { liveId: match.tenant.liveId } : {}),
  };
}

export { secretEquals } from '../secret-equal.js';

/** Admin routes: `x-admin-api-key` or Bearer equal to ADMIN_API_KEY; disabled (403) when it is not set. */
export function authenticateAdmin(config: EngineConfig, request: FastifyRequest): void {
  if (!config.adminApiKey) throw new EngineError('FORBIDDEN', 'Admin API disabled: set ADMIN_API_KEY');
  const h = request.headers;
  const given =
    (typeof h['x-admin-api-key'] === 'string' ? h['x-admin-api-key'] : undefined) ??
    /^Bearer\s+(\S+)\s*$/i.exec(typeof h.authorization === 'string' ? h.authorization : '')?.[1];
  if (!given || !secretEquals(given, config.adminApiKey)) throw new EngineError('UNAUTHORIZED', 'Invalid admin key');
}

/**
 * The tenant's assistant named in the path. Another tenant's assistant is reported exactly like a missing one
 * (404 ASSISTANT_NOT_FOUND), so keys cannot be probed across tenants.
 */
export async function tenantAssistant(store: Store, request: FastifyRequest, key: string): Promise<Assistant> {
  const a = key.startsWith('ag_')
    ? await store.assistants.get(request.tenant.id, key)
    : await store.assistants.getByKey(request.tenant.id, key);
  if (!a) throw new EngineError('ASSISTANT_NOT_FOUND');
  return a;
}

/**
 * First start: the tenant from PORTAL_EMAIL / PORTAL_API_KEY, or, with no tenant at all and no key given, a
 * generated key printed once (DESIGN.md 3). Idempotent: an existing key is not duplicated.
 */
export async function ensureFirstTenant(
  store: Store,
  config: EngineConfig,
  print: (line: string) => void,
): Promise<{ tenantId: string; created: boolean } | undefined> {
  const email = config.portalEmail ?? 'admin@localhost';
  if (config.portalApiKey) {
    const existing = await store.apiKeys.verify(config.portalApiKey);
    if (existing) return { tenantId: existing.tenant.id, created: false };
    const tenant = (await store.tenants.getByEmail(email)) ?? (await store.tenants.create({ email }));
    await store.apiKeys.create(tenant.id, { label: 'production', secret: config.portalApiKey });
    return { tenantId: tenant.id, created: true };
  }
  if ((await store.tenants.count()) > 0) return undefined;
  const tenant = await store.tenants.create({ email });
  const { secret } = await store.apiKeys.create(tenant.id, { label: 'production' });
  print(
    `First tenant created: email=${email} portalApiKey=${secret} (shown once; set PORTAL_API_KEY to choose your own)`,
  );
  return { tenantId: tenant.id, created: true };
}
