import { hashSecret, newId, newSecret, sameHash } from '../ids.js';
import { nowIso } from '../sqlite/database.js';
import {
  KEY_TENANT_SELECT,
  type KeyRow,
  type KeyTenantRow,
  type TenantRow,
  toKey,
  toKeyMatch,
  toTenant,
  twinEmail,
} from '../sqlite/tenants.js';
import type { ApiKeysRepo, TenantsRepo } from '../types.js';
import { all, one, type Pool, run } from './database.js';

export function pgTenants(pool: Pool): TenantsRepo {
  const byId = (id: string) => one<TenantRow>(pool, 'SELECT * FROM tenants WHERE id = $1', [id]);
  return {
    async create({ email, name, creditCents = 0 }) {
      const id = newId('t', 9);
      await run(pool, 'INSERT INTO tenants (id, email, name, credit_cents, created_at) VALUES ($1, $2, $3, $4, $5)', [
        id,
        email.trim(),
        name ?? null,
        creditCents,
        nowIso(),
      ]);
      return toTenant((await byId(id))!);
    },
    async get(id) {
      const r = await byId(id);
      return r && toTenant(r);
    },
    async getByEmail(email) {
      const r = await one<TenantRow>(pool, 'SELECT * FROM tenants WHERE lower(email) = lower($1)', [email.trim()]);
      return r && toTenant(r);
    },
    async list() {
      return (await all<TenantRow>(pool, 'SELECT * FROM tenants WHERE live_id IS NULL ORDER BY seq')).map(toTenant);
    },
    async count() {
      return Number((await one<{ n: number }>(pool, 'SELECT COUNT(*) AS n FROM tenants WHERE live_id IS NULL'))!.n);
    },
    async testTwin(liveId) {
      const live = await byId(liveId);
      if (!live || live.live_id) throw new Error(`no live tenant ${liveId}`);
      await run(
        pool,
        `INSERT INTO tenants (id, email, credit_cents, created_at, environment, live_id)
         VALUES ($1, $2, 0, $3, 'test', $4) ON CONFLICT DO NOTHING`,
        [newId('t', 9), twinEmail(liveId), nowIso(), liveId],
      );
      return toTenant((await one<TenantRow>(pool, 'SELECT * FROM tenants WHERE live_id = $1', [liveId]))!);
    },
  };
}

export function pgApiKeys(pool: Pool): ApiKeysRepo {
  const list = (tenantId: string) =>
    all<KeyRow>(pool, 'SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY seq', [tenantId]);
  return {
    async create(tenantId, input = {}) {
      const secret = input.secret ?? newSecret('vek');
      const id = newId('key', 9);
      await run(
        pool,
        'INSERT INTO api_keys (id, tenant_id, label, prefix, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [id, tenantId, input.label ?? 'production', secret.slice(0, 8), hashSecret(secret), nowIso()],
      );
      const key = (await list(tenantId)).find((k) => k.id === id)!;
      return { key: toKey(key), secret };
    },
    async verify(secret) {
      if (!secret) return undefined;
      const h = hashSecret(secret);
      const r = await one<KeyTenantRow>(pool, `${KEY_TENANT_SELECT} WHERE k.hash = $1 AND k.revoked_at IS NULL`, [h]);
      if (!r || !sameHash(r.hash, h)) return undefined;
      const now = Date.now();
      // last_used_at for humans, refreshed at most once a minute (see the SQLite store).
      await run(
        pool,
        'UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)',
        [new Date(now).toISOString(), r.id, new Date(now - 60_000).toISOString()],
      );
      return toKeyMatch(r);
    },
    async list(tenantId) {
      return (await list(tenantId)).map(toKey);
    },
    async revoke(tenantId, keyId) {
      return (
        (await run(
          pool,
          'UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL',
          [nowIso(), tenantId, keyId],
        )) > 0
      );
    },
  };
}
