import { clampLimit, decodeCursor, encodeCursor } from '../cursor.js';
import { newId, newSecret } from '../ids.js';
import { type SecretBox, sealedSecretUpdates } from '../secrets.js';
import { nowIso } from '../sqlite/database.js';
import {
  type AttemptRow,
  type DeliveryRow,
  deliveryArgs,
  type EndpointRow,
  toAttempt,
  toDelivery,
  toEndpoint,
} from '../sqlite/webhooks.js';
import type { WebhookDelivery, WebhookEndpoint, WebhooksRepo } from '../types.js';
import { all, one, type Pool, run, tx } from './database.js';

/** Re-seals endpoint secrets found under an older key, or in plain text (rows written before sealing existed). */
export async function resealPgWebhookSecrets(pool: Pool, box: SecretBox): Promise<void> {
  const rows = await all<{ id: string; secret: string }>(pool, 'SELECT id, secret FROM webhook_endpoints', []);
  for (const u of sealedSecretUpdates(box, rows)) {
    await run(pool, 'UPDATE webhook_endpoints SET secret = $1 WHERE id = $2', [u.secret, u.id]);
  }
}

export function pgWebhooks(pool: Pool, box: SecretBox): WebhooksRepo {
  const toRecord = (r: EndpointRow) => toEndpoint(box, r);
  const getEp = (tenantId: string, id: string) =>
    one<EndpointRow>(pool, 'SELECT * FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  const listEp = (tenantId: string) =>
    all<EndpointRow>(pool, 'SELECT * FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY seq', [tenantId]);
  return {
    async createEndpoint(tenantId, input) {
      const id = newId('we', 12);
      const now = nowIso();
      await run(
        pool,
        `INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, description, enabled, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          id,
          tenantId,
          input.url,
          JSON.stringify(input.events),
          box.seal(input.secret ?? newSecret('whsec')),
          input.description ?? null,
          input.enabled === false ? 0 : 1,
          now,
          now,
        ],
      );
      return toRecord((await getEp(tenantId, id))!);
    },
    async listEndpoints(tenantId) {
      return (await listEp(tenantId)).map(toRecord);
    },
    async getEndpoint(tenantId, id) {
      const r = await getEp(tenantId, id);
      return r && toRecord(r);
    },
    async updateEndpoint(tenantId, id, patch) {
      const r = await getEp(tenantId, id);
      if (!r) return undefined;
      const cur = toRecord(r);
      await run(
        pool,
        `UPDATE webhook_endpoints SET url = $1, events = $2, description = $3, enabled = $4, updated_at = $5
         WHERE tenant_id = $6 AND id = $7`,
        [
          patch.url ?? cur.url,
          JSON.stringify(patch.events ?? cur.events),
          patch.description ?? cur.description ?? null,
          (patch.enabled ?? cur.enabled) ? 1 : 0,
          nowIso(),
          tenantId,
          id,
        ],
      );
      return toRecord((await getEp(tenantId, id))!);
    },
    async deleteEndpoint(tenantId, id) {
      return tx(pool, async (c) => {
        const ok = (await run(c, 'DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2', [tenantId, id])) > 0;
        if (ok) {
          await run(
            c,
            "UPDATE webhook_deliveries SET status = 'dead', last_error = 'endpoint deleted' WHERE endpoint_id = $1 AND status = 'pending'",
            [id],
          );
        }
        return ok;
      });
    },
    async enqueue(tenantId, type, payload) {
      return tx(pool, async (c) => {
        const eps = await all<EndpointRow>(c, 'SELECT * FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY seq', [
          tenantId,
        ]);
        const rows = deliveryArgs(eps, tenantId, type, payload);
        for (const args of rows) {
          await run(
            c,
            `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, type, payload, status, attempts,
               next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $8)`,
            args,
          );
        }
        return rows.length;
      });
    },
    async claimDue(now, limit, leaseMs, busy = new Set<string>()) {
      // FOR UPDATE SKIP LOCKED: another engine claiming at the same moment skips these rows instead of waiting, and
      // the lease (next_attempt_at moved forward) keeps them ours after commit until we record the attempt.
      return tx(pool, async (c) => {
        const rows = await all<DeliveryRow>(
          c,
          `SELECT * FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1
             AND NOT (endpoint_id = ANY($2)) ORDER BY next_attempt_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED`,
          [now, [...busy], limit * 8],
        );
        const out: Array<WebhookDelivery & { endpoint: WebhookEndpoint }> = [];
        const taken = new Set<string>();
        for (const r of rows) {
          if (out.length >= limit) break;
          if (taken.has(r.endpoint_id)) continue;
          taken.add(r.endpoint_id);
          await run(c, 'UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id = $2', [now + leaseMs, r.id]);
          const ep = await one<EndpointRow>(c, 'SELECT * FROM webhook_endpoints WHERE id = $1', [r.endpoint_id]);
          if (!ep) continue;
          out.push({ ...toDelivery(r), endpoint: toEndpoint(box, ep) });
        }
        return out;
      });
    },
    async recordAttempt(id, a, next) {
      await tx(pool, async (c) => {
        const d = await one<DeliveryRow>(c, 'SELECT * FROM webhook_deliveries WHERE id = $1 FOR UPDATE', [id]);
        if (!d) return;
        await run(
          c,
          `INSERT INTO webhook_attempts (delivery_id, endpoint_id, tenant_id, attempt, at, ok, status_code, error,
             duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [
            id,
            d.endpoint_id,
            d.tenant_id,
            d.attempts + 1,
            nowIso(),
            a.ok ? 1 : 0,
            a.statusCode ?? null,
            a.error ?? null,
            Math.round(a.durationMs),
          ],
        );
        const err = a.error ?? `HTTP ${a.statusCode}`;
        if ('delivered' in next) {
          await run(
            c,
            "UPDATE webhook_deliveries SET attempts = attempts + 1, status = 'delivered', delivered_at = $1, last_error = NULL WHERE id = $2",
            [nowIso(), id],
          );
        } else if ('dead' in next) {
          await run(
            c,
            "UPDATE webhook_deliveries SET attempts = attempts + 1, status = 'dead', last_error = $1 WHERE id = $2",
            [err, id],
          );
        } else {
          await run(
            c,
            'UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 WHERE id = $3',
            [next.nextAttemptAt, err, id],
          );
        }
      });
    },
    async listAttempts(tenantId, endpointId, p = {}) {
      const limit = clampLimit(p.limit);
      const rows = await all<AttemptRow>(
        pool,
        `SELECT a.seq, a.delivery_id, a.endpoint_id, a.attempt, a.at, a.ok, a.status_code, a.error, a.duration_ms,
           d.event_id, d.type
         FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
         WHERE a.tenant_id = $1 AND a.endpoint_id = $2 AND a.seq < $3 ORDER BY a.seq DESC LIMIT $4`,
        [tenantId, endpointId, decodeCursor(p.cursor) ?? Number.MAX_SAFE_INTEGER, limit + 1],
      );
      const more = rows.length > limit;
      if (more) rows.pop();
      return { rows: rows.map(toAttempt), ...(more ? { nextCursor: encodeCursor(rows[rows.length - 1]!.seq) } : {}) };
    },
    async getDelivery(id) {
      const r = await one<DeliveryRow>(pool, 'SELECT * FROM webhook_deliveries WHERE id = $1', [id]);
      return r && toDelivery(r);
    },
    async countPending() {
      const r = await one<{ n: string }>(pool, "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending'");
      return Number(r?.n ?? 0);
    },
  };
}
