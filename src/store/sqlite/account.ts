import { pluginConfigUpdates, type SecretBox } from '../secrets.js';
import type { AccountRepo, CallLimits, NumberRoute, NumberRoutingRepo, PluginInstance } from '../types.js';
import { type Db, nowIso, parseJson } from './database.js';

/** Numbers are stored in one canonical form (digits with an optional leading +) so "+1 (555) 010-2000" matches. */
export function normalizeNumber(n: string): string {
  const t = n.trim();
  const digits = t.replace(/[^0-9]/g, '');
  return t.startsWith('+') ? `+${digits}` : digits;
}

export interface RouteRow {
  number: string;
  tenant_id: string;
  assistant_id: string;
  created_at: string;
}
export const toRoute = (r: RouteRow): NumberRoute => ({
  number: r.number,
  tenantId: r.tenant_id,
  assistantId: r.assistant_id,
  createdAt: r.created_at,
});

export function sqliteNumberRouting(db: Db): NumberRoutingRepo {
  const get = db.prepare<[string], RouteRow>('SELECT * FROM number_routes WHERE number = ?');
  const upsert = db.prepare(
    `INSERT INTO number_routes (number, tenant_id, assistant_id, created_at) VALUES (?, ?, ?, ?)
     ON CONFLICT(number) DO UPDATE SET assistant_id = excluded.assistant_id WHERE tenant_id = excluded.tenant_id`,
  );
  const list = db.prepare<[string], RouteRow>('SELECT * FROM number_routes WHERE tenant_id = ? ORDER BY number');
  const del = db.prepare('DELETE FROM number_routes WHERE tenant_id = ? AND number = ?');
  return {
    async set(tenantId, number, assistantId) {
      const n = normalizeNumber(number);
      upsert.run(n, tenantId, assistantId, nowIso());
      const r = get.get(n);
      // Another tenant already routes this number: the upsert's WHERE left it untouched.
      return r && r.tenant_id === tenantId ? toRoute(r) : undefined;
    },
    async list(tenantId) {
      return list.all(tenantId).map(toRoute);
    },
    async delete(tenantId, number) {
      return del.run(tenantId, normalizeNumber(number)).changes > 0;
    },
    async resolve(number) {
      const r = get.get(normalizeNumber(number));
      return r && toRoute(r);
    },
  };
}

export interface PluginRow {
  tenant_id: string;
  plugin_id: string;
  status: 'active' | 'inactive';
  config: string;
  activated_at: string | null;
  updated_at: string;
}
/** `config` is sealed at rest (it holds carrier credentials): src/store/secrets.ts. */
export const rowToPlugin = (box: SecretBox, r: PluginRow): PluginInstance => ({
  tenantId: r.tenant_id,
  pluginId: r.plugin_id,
  status: r.status,
  config: parseJson<Record<string, unknown>>(box.open(r.config), {}),
  ...(r.activated_at ? { activatedAt: r.activated_at } : {}),
  updatedAt: r.updated_at,
});

export function sqliteAccount(db: Db, box: SecretBox): AccountRepo {
  const allConfigs = db.prepare<[], PluginRow>('SELECT * FROM plugin_instances');
  const setConfig = db.prepare('UPDATE plugin_instances SET config = ? WHERE tenant_id = ? AND plugin_id = ?');
  db.transaction(() => {
    for (const u of pluginConfigUpdates(box, allConfigs.all())) setConfig.run(u.config, u.tenantId, u.pluginId);
  })();
  const toPlugin = (r: PluginRow) => rowToPlugin(box, r);
  const settings = db.prepare<[string], { allowed_ips: string; call_limits: string }>(
    'SELECT allowed_ips, call_limits FROM account_settings WHERE tenant_id = ?',
  );
  const setIps = db.prepare(
    `INSERT INTO account_settings (tenant_id, allowed_ips) VALUES (?, ?)
     ON CONFLICT(tenant_id) DO UPDATE SET allowed_ips = excluded.allowed_ips`,
  );
  const setLimits = db.prepare(
    `INSERT INTO account_settings (tenant_id, call_limits) VALUES (?, ?)
     ON CONFLICT(tenant_id) DO UPDATE SET call_limits = excluded.call_limits`,
  );
  const plugins = db.prepare<[string], PluginRow>(
    'SELECT * FROM plugin_instances WHERE tenant_id = ? ORDER BY plugin_id',
  );
  const plugin = db.prepare<[string, string], PluginRow>(
    'SELECT * FROM plugin_instances WHERE tenant_id = ? AND plugin_id = ?',
  );
  const activate = db.prepare(
    `INSERT INTO plugin_instances (tenant_id, plugin_id, status, activated_at, updated_at) VALUES (?, ?, 'active', ?, ?)
     ON CONFLICT(tenant_id, plugin_id) DO UPDATE SET status = 'active', activated_at = excluded.activated_at,
     updated_at = excluded.updated_at`,
  );
  const configure = db.prepare(
    'UPDATE plugin_instances SET config = ?, updated_at = ? WHERE tenant_id = ? AND plugin_id = ?',
  );
  const credit = db.prepare<[string], { credit_cents: number }>('SELECT credit_cents FROM tenants WHERE id = ?');
  const debit = db.prepare('UPDATE tenants SET credit_cents = credit_cents - ? WHERE id = ? AND credit_cents >= ?');
  const add = db.prepare('UPDATE tenants SET credit_cents = credit_cents + ? WHERE id = ?');
  const recharge = db.prepare("INSERT INTO analytics_events (tenant_id, kind, at, data) VALUES (?, 'recharge', ?, ?)");

  const purchase = db.transaction((tenantId: string, pluginId: string, price: number): 'ok' | 'insufficient' => {
    if (price > 0 && debit.run(price, tenantId, price).changes === 0) return 'insufficient';
    const now = nowIso();
    activate.run(tenantId, pluginId, now, now);
    return 'ok';
  });
  const topUp = db.transaction((tenantId: string, cents: number, note: string | undefined): number => {
    add.run(cents, tenantId);
    const balance = credit.get(tenantId)?.credit_cents ?? 0;
    recharge.run(tenantId, nowIso(), JSON.stringify({ amountCents: cents, balanceCents: balance, note: note ?? null }));
    return balance;
  });

  return {
    async getAllowedIps(tenantId) {
      return parseJson<string[]>(settings.get(tenantId)?.allowed_ips, []);
    },
    async setAllowedIps(tenantId, entries) {
      setIps.run(tenantId, JSON.stringify(entries));
    },
    async getCallLimits(tenantId) {
      return parseJson<CallLimits>(settings.get(tenantId)?.call_limits, {});
    },
    async setCallLimits(tenantId, limits) {
      setLimits.run(tenantId, JSON.stringify(limits));
    },
    async listPlugins(tenantId) {
      return plugins.all(tenantId).map(toPlugin);
    },
    async getPlugin(tenantId, pluginId) {
      const r = plugin.get(tenantId, pluginId);
      return r && toPlugin(r);
    },
    async purchasePlugin(tenantId, pluginId, priceCents) {
      return purchase(tenantId, pluginId, priceCents);
    },
    async configurePlugin(tenantId, pluginId, config) {
      if (configure.run(box.seal(JSON.stringify(config)), nowIso(), tenantId, pluginId).changes === 0) return undefined;
      return toPlugin(plugin.get(tenantId, pluginId)!);
    },
    async getCredit(tenantId) {
      return credit.get(tenantId)?.credit_cents ?? 0;
    },
    async addCredit(tenantId, cents, note) {
      return topUp(tenantId, cents, note);
    },
  };
}
