import { pluginConfigUpdates, type SecretBox } from '../secrets.js';
import { normalizeNumber, type PluginRow, type RouteRow, rowToPlugin, toRoute } from '../sqlite/account.js';
import { nowIso, parseJson } from '../sqlite/database.js';
import type { AccountRepo, CallLimits, NumberRoutingRepo } from '../types.js';
import { all, one, type Pool, run, tx } from './database.js';

export function pgNumberRouting(pool: Pool): NumberRoutingRepo {
  const get = (n: string) => one<RouteRow>(pool, 'SELECT * FROM number_routes WHERE number = $1', [n]);
  return {
    async set(tenantId, number, assistantId) {
      const n = normalizeNumber(number);
      await run(
        pool,
        `INSERT INTO number_routes (number, tenant_id, assistant_id, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (number) DO UPDATE SET assistant_id = excluded.assistant_id
         WHERE number_routes.tenant_id = excluded.tenant_id`,
        [n, tenantId, assistantId, nowIso()],
      );
      const r = await get(n);
      // Another tenant already routes this number: the upsert's WHERE left it untouched.
      return r && r.tenant_id === tenantId ? toRoute(r) : undefined;
    },
    async list(tenantId) {
      return (
        await all<RouteRow>(pool, 'SELECT * FROM number_routes WHERE tenant_id = $1 ORDER BY number', [tenantId])
      ).map(toRoute);
    },
    async delete(tenantId, number) {
      return (
        (await run(pool, 'DELETE FROM number_routes WHERE tenant_id = $1 AND number = $2', [
          tenantId,
          normalizeNumber(number),
        ])) > 0
      );
    },
    async resolve(number) {
      const r = await get(normalizeNumber(number));
      return r && toRoute(r);
    },
  };
}

/** Seals plugin configs not yet sealed under the current key, when the store opens (src/store/secrets.ts). */
export async function resealPgPluginConfigs(pool: Pool, box: SecretBox): Promise<void> {
  const rows = await all<PluginRow>(pool, 'SELECT * FROM plugin_instances', []);
  for (const u of pluginConfigUpdates(box, rows)) {
    await run(pool, 'UPDATE plugin_instances SET config = $1 WHERE tenant_id = $2 AND plugin_id = $3', [
      u.config,
      u.tenantId,
      u.pluginId,
    ]);
  }
}

export function pgAccount(pool: Pool, box: SecretBox): AccountRepo {
  const toPlugin = (r: PluginRow) => rowToPlugin(box, r);
  const settings = (tenantId: string) =>
    one<{ allowed_ips: string; call_limits: string }>(
      pool,
      'SELECT allowed_ips, call_limits FROM account_settings WHERE tenant_id = $1',
      [tenantId],
    );
  const plugin = (tenantId: string, pluginId: string) =>
    one<PluginRow>(pool, 'SELECT * FROM plugin_instances WHERE tenant_id = $1 AND plugin_id = $2', [
      tenantId,
      pluginId,
    ]);
  const credit = async (tenantId: string) =>
    (await one<{ credit_cents: number }>(pool, 'SELECT credit_cents FROM tenants WHERE id = $1', [tenantId]))
      ?.credit_cents ?? 0;
  return {
    async getAllowedIps(tenantId) {
      return parseJson<string[]>((await settings(tenantId))?.allowed_ips, []);
    },
    async setAllowedIps(tenantId, entries) {
      await run(
        pool,
        `INSERT INTO account_settings (tenant_id, allowed_ips) VALUES ($1, $2)
         ON CONFLICT (tenant_id) DO UPDATE SET allowed_ips = excluded.allowed_ips`,
        [tenantId, JSON.stringify(entries)],
      );
    },
    async getCallLimits(tenantId) {
      return parseJson<CallLimits>((await settings(tenantId))?.call_limits, {});
    },
    async setCallLimits(tenantId, limits) {
      await run(
        pool,
        `INSERT INTO account_settings (tenant_id, call_limits) VALUES ($1, $2)
         ON CONFLICT (tenant_id) DO UPDATE SET call_limits = excluded.call_limits`,
        [tenantId, JSON.stringify(limits)],
      );
    },
    async listPlugins(tenantId) {
      return (
        await all<PluginRow>(pool, 'SELECT * FROM plugin_instances WHERE tenant_id = $1 ORDER BY plugin_id', [tenantId])
      ).map(toPlugin);
    },
    async getPlugin(tenantId, pluginId) {
      const r = await plugin(tenantId, pluginId);
      return r && toPlugin(r);
    },
    async purchasePlugin(tenantId, pluginId, price) {
      return tx(pool, async (c) => {
        if (
          price > 0 &&
          (await run(c, 'UPDATE tenants SET credit_cents = credit_cents - $1 WHERE id = $2 AND credit_cents >= $1', [
            price,
            tenantId,
          ])) === 0
        ) {
          return 'insufficient' as const;
        }
        const now = nowIso();
        await run(
          c,
          `INSERT INTO plugin_instances (tenant_id, plugin_id, status, activated_at, updated_at)
           VALUES ($1, $2, 'active', $3, $4)
           ON CONFLICT (tenant_id, plugin_id) DO UPDATE SET status = 'active', activated_at = excluded.activated_at,
           updated_at = excluded.updated_at`,
          [tenantId, pluginId, now, now],
        );
        return 'ok' as const;
      });
    },
    async configurePlugin(tenantId, pluginId, config) {
      const n = await run(
        pool,
        'UPDATE plugin_instances SET config = $1, updated_at = $2 WHERE tenant_id = $3 AND plugin_id = $4',
        [box.seal(JSON.stringify(config)), nowIso(), tenantId, pluginId],
      );
      if (n === 0) return undefined;
      return toPlugin((await plugin(tenantId, pluginId))!);
    },
    async getCredit(tenantId) {
      return credit(tenantId);
    },
    async addCredit(tenantId, cents, note) {
      return tx(pool, async (c) => {
        const r = await one<{ credit_cents: number }>(
          c,
          'UPDATE tenants SET credit_cents = credit_cents + $1 WHERE id = $2 RETURNING credit_cents',
          [cents, tenantId],
        );
        const balance = r?.credit_cents ?? 0;
        await run(c, "INSERT INTO analytics_events (tenant_id, kind, at, data) VALUES ($1, 'recharge', $2, $3)", [
          tenantId,
          nowIso(),
          JSON.stringify({ amountCents: cents, balanceCents: balance, note: note ?? null }),
        ]);
        return balance;
      });
    },
  };
}
