import { hashSecret, newId, newSecret, sameHash } from '../ids.js';
import type { ApiKeyRecord, ApiKeysRepo, KeyMatch, Tenant, TenantsRepo } from '../types.js';
import { type Db, nowIso } from './database.js';

export interface TenantRow {
  id: string;
  email: string;
  name: string | null;
  credit_cents: number;
  created_at: string;
  environment: string;
  live_id: string | null;
}

export function toTenant(r: TenantRow): Tenant {
  return {
    id: r.id,
    email: r.email,
    ...(r.name ? { name: r.name } : {}),
    creditCents: r.credit_cents,
    createdAt: r.created_at,
    environment: r.environment === 'test' ? 'test' : 'production',
    ...(r.live_id ? { liveId: r.live_id } : {}),
  };
}

/** A test twin's own email column: unique, and not an address anyone can log in with (its keys show the live one). */
export const twinEmail = (liveId: string) => `${liveId}.test`;

export function sqliteTenants(db: Db): TenantsRepo {
  const insert = db.prepare('INSERT INTO tenants (id, email, name, credit_cents, created_at) VALUES (?, ?, ?, ?, ?)');
  const byId = db.prepare<[string], TenantRow>('SELECT * FROM tenants WHERE id = ?');
  const byEmail = db.prepare<[string], TenantRow>('SELECT * FROM tenants WHERE email = ?');
  const all = db.prepare<[], TenantRow>('SELECT * FROM tenants WHERE live_id IS NULL ORDER BY rowid');
  const count = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM tenants WHERE live_id IS NULL');
  const twin = db.prepare<[string], TenantRow>('SELECT * FROM tenants WHERE live_id = ?');
  const insertTwin = db.prepare(
    `INSERT INTO tenants (id, email, credit_cents, created_at, environment, live_id) VALUES (?, ?, 0, ?, 'test', ?)
     ON CONFLICT DO NOTHING`,
  );
  return {
    async create({ email, name, creditCents = 0 }) {
      const id = newId('t', 9);
      insert.run(id, email.trim(), name ?? null, creditCents, nowIso());
      return toTenant(byId.get(id)!);
    },
    async get(id) {
      const r = byId.get(id);
      return r && toTenant(r);
    },
    async getByEmail(email) {
      const r = byEmail.get(email.trim());
      return r && toTenant(r);
    },
    async list() {
      return all.all().map(toTenant);
    },
    async count() {
      return count.get()!.n;
    },
    async testTwin(liveId) {
      const live = byId.get(liveId);
      if (!live || live.live_id) throw new Error(`no live tenant ${liveId}`);
      insertTwin.run(newId('t', 9), twinEmail(liveId), nowIso(), liveId);
      return toTenant(twin.get(liveId)!);
    },
  };
}

export interface KeyRow {
  id: string;
  tenant_id: string;
  label: string;
  prefix: string;
  hash: Buffer;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

export function toKey(r: KeyRow): ApiKeyRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    label: r.label,
    prefix: r.prefix,
    createdAt: r.created_at,
    ...(r.revoked_at ? { revokedAt: r.revoked_at } : {}),
    ...(r.last_used_at ? { lastUsedAt: r.last_used_at } : {}),
  };
}

/** A key row joined with its tenant's columns (t_…), as both stores select it in verify(). */
export type KeyTenantRow = KeyRow & {
  t_email: string;
  t_name: string | null;
  t_credit: number;
  t_created: string;
  t_env: string;
  t_live: string | null;
};

/**
 * verify()'s join: the key's tenant, with a test twin's email and name taken from its live tenant (the portal
 * credentials are the account's whatever the environment).
 */
export const KEY_TENANT_SELECT = `SELECT k.*, COALESCE(l.email, t.email) AS t_email, COALESCE(l.name, t.name) AS t_name,
  t.credit_cents AS t_credit, t.created_at AS t_created, t.environment AS t_env, t.live_id AS t_live
  FROM api_keys k JOIN tenants t ON t.id = k.tenant_id LEFT JOIN tenants l ON l.id = t.live_id`;

export function toKeyMatch(r: KeyTenantRow): KeyMatch {
  return {
    keyId: r.id,
    tenant: toTenant({
      id: r.tenant_id,
      email: r.t_email,
      name: r.t_name,
      credit_cents: r.t_credit,
      created_at: r.t_created,
      environment: r.t_env,
      live_id: r.t_live,
    }),
  };
}

export function sqliteApiKeys(db: Db): ApiKeysRepo {
  const insert = db.prepare(
    'INSERT INTO api_keys (id, tenant_id, label, prefix, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const byHash = db.prepare<[Buffer], KeyTenantRow>(`${KEY_TENANT_SELECT} WHERE k.hash = ? AND k.revoked_at IS NULL`);
  // last_used_at is for humans ("is this key still used?"): refreshed at most once a minute, so authenticating a
  // request is a read, not a write, on the hot path.
  const touch = db.prepare(
    'UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)',
  );
  const list = db.prepare<[string], KeyRow>('SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY rowid');
  const revoke = db.prepare('UPDATE api_keys SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL');
  return {
    async create(tenantId, input = {}) {
      const secret = input.secret ?? newSecret('vek');
      const id = newId('key', 9);
      insert.run(id, tenantId, input.label ?? 'production', secret.slice(0, 8), hashSecret(secret), nowIso());
      const key = list.all(tenantId).find((k) => k.id === id)!;
      return { key: toKey(key), secret };
    },
    async verify(secret) {
      if (!secret) return undefined;
      const h = hashSecret(secret);
      const r = byHash.get(h);
      if (!r || !sameHash(r.hash, h)) return undefined;
      const now = Date.now();
      touch.run(new Date(now).toISOString(), r.id, new Date(now - 60_000).toISOString());
      return toKeyMatch(r);
    },
    async list(tenantId) {
      return list.all(tenantId).map(toKey);
    },
    async revoke(tenantId, keyId) {
      return revoke.run(nowIso(), tenantId, keyId).changes > 0;
    },
  };
}
