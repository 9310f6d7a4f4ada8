import { clampLimit, decodeCursor, encodeCursor } from '../cursor.js';
import { newId, newSecret } from '../ids.js';
import { type SecretBox, sealedSecretUpdates } from '../secrets.js';
import type { WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEventType, WebhooksRepo } from '../types.js';
import { type Db, nowIso, parseJson } from './database.js';

export interface EndpointRow {
  id: string;
  tenant_id: string;
  url: string;
  events: string;
  secret: string;
  description: string | null;
  enabled: number;
  created_at: string;
  updated_at: string;
}
/** The signing secret is sealed at rest (src/store/secrets.ts): it must be read back to sign each delivery. */
export const toEndpoint = (box: SecretBox, r: EndpointRow): WebhookEndpoint => ({
  id: r.id,
  tenantId: r.tenant_id,
  url: r.url,
  events: parseJson<WebhookEventType[]>(r.events, []),
  secret: box.open(r.secret),
  ...(r.description ? { description: r.description } : {}),
  enabled: r.enabled === 1,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export interface DeliveryRow {
  id: string;
  tenant_id: string;
  endpoint_id: string;
  event_id: string;
  type: WebhookEventType;
  payload: string;
  status: 'pending' | 'delivered' | 'dead';
  attempts: number;
  next_attempt_at: number;
  created_at: string;
  delivered_at: string | null;
  last_error: string | null;
}
export const toDelivery = (r: DeliveryRow): WebhookDelivery => ({
  id: r.id,
  tenantId: r.tenant_id,
  endpointId: r.endpoint_id,
  eventId: r.event_id,
  type: r.type,
  payload: parseJson<Record<string, unknown>>(r.payload, {}),
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  createdAt: r.created_at,
  ...(r.delivered_at ? { deliveredAt: r.delivered_at } : {}),
  ...(r.last_error ? { lastError: r.last_error } : {}),
});

export interface AttemptRow {
  seq: number;
  delivery_id: string;
  endpoint_id: string;
  attempt: number;
  at: string;
  ok: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  event_id: string;
  type: string;
}

export const toAttempt = (r: AttemptRow): WebhookAttempt => ({
  id: r.seq,
  deliveryId: r.delivery_id,
  endpointId: r.endpoint_id,
  eventId: r.event_id,
  type: r.type,
  attempt: r.attempt,
  at: r.at,
  ok: r.ok === 1,
  ...(r.status_code !== null ? { statusCode: r.status_code } : {}),
  ...(r.error !== null ? { error: r.error } : {}),
  durationMs: r.duration_ms,
});

/**
 * One pending delivery per enabled endpoint subscribed to `type`, as the insert's arguments (id, tenant_id,
 * endpoint_id, event_id, type, payload, next_attempt_at, created_at). Shared by both stores.
 */
export function deliveryArgs(
  endpoints: readonly EndpointRow[],
  tenantId: string,
  type: WebhookEventType,
  payload: Record<string, unknown>,
): Array<[string, string, string, string, WebhookEventType, string, number, string]> {
  const now = Date.now();
  const created = new Date(now).toISOString();
  const out: Array<[string, string, string, string, WebhookEventType, string, number, string]> = [];
  for (const ep of endpoints) {
    if (ep.enabled !== 1 || !parseJson<WebhookEventType[]>(ep.events, []).includes(type)) continue;
    const eventId = newId('evt', 12);
    const body = JSON.stringify({ id: eventId, type, createdAt: created, data: payload });
    out.push([newId('dlv', 12), tenantId, ep.id, eventId, type, body, now, created]);
  }
  return out;
}

export function sqliteWebhooks(db: Db, box: SecretBox): WebhooksRepo {
  const toRecord = (r: EndpointRow) => toEndpoint(box, r);
  // Re-seal what an older key (or no key: rows from before sealing) left behind.
  const reseal = db.prepare('UPDATE webhook_endpoints SET secret = ? WHERE id = ?');
  const secrets = db.prepare<[], { id: string; secret: string }>('SELECT id, secret FROM webhook_endpoints').all();
  for (const u of sealedSecretUpdates(box, secrets)) reseal.run(u.secret, u.id);
  const insertEp = db.prepare(
    `INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, description, enabled, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const getEp = db.prepare<[string, string], EndpointRow>(
    'SELECT * FROM webhook_endpoints WHERE tenant_id = ? AND id = ?',
  );
  const listEp = db.prepare<[string], EndpointRow>(
    'SELECT * FROM webhook_endpoints WHERE tenant_id = ? ORDER BY rowid',
  );
  const updEp = db.prepare(
    'UPDATE webhook_endpoints SET url = ?, events = ?, description = ?, enabled = ?, updated_at = ? WHERE tenant_id = ? AND id = ?',
  );
  const delEp = db.prepare('DELETE FROM webhook_endpoints WHERE tenant_id = ? AND id = ?');
  const delPending = db.prepare(
    "UPDATE webhook_deliveries SET status = 'dead', last_error = 'endpoint deleted' WHERE endpoint_id = ? AND status = 'pending'",
  );
  const insertDel = db.prepare(
    `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, type, payload, status, attempts, next_attempt_at, created_at)
     VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)`,
  );
  const due = db.prepare<[number, number], DeliveryRow>(
    "SELECT * FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, rowid LIMIT ?",
  );
  const lease = db.prepare(
    "UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ? AND status = 'pending' AND next_attempt_at = ?",
  );
  const epById = db.prepare<[string], EndpointRow>('SELECT * FROM webhook_endpoints WHERE id = ?');
  const pendingCount = db.prepare<[], { n: number }>(
    "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending'",
  );
  const getDel = db.prepare<[string], DeliveryRow>('SELECT * FROM webhook_deliveries WHERE id = ?');
  const insertAttempt = db.prepare(
    `INSERT INTO webhook_attempts (delivery_id, endpoint_id, tenant_id, attempt, at, ok, status_code, error, duration_ms)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const setNext = db.prepare(
    'UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?',
  );
  const setDone = db.prepare(
    "UPDATE webhook_deliveries SET attempts = attempts + 1, status = 'delivered', delivered_at = ?, last_error = NULL WHERE id = ?",
  );
  const setDead = db.prepare(
    "UPDATE webhook_deliveries SET attempts = attempts + 1, status = 'dead', last_error = ? WHERE id = ?",
  );
  const attempts = db.prepare<[string, string, number, number], AttemptRow>(
    `SELECT a.seq, a.delivery_id, a.endpoint_id, a.attempt, a.at, a.ok, a.status_code, a.error, a.duration_ms,
       d.event_id, d.type
     FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
     WHERE a.tenant_id = ? AND a.endpoint_id = ? AND a.seq < ? ORDER BY a.seq DESC LIMIT ?`,
  );

  const enqueue = db.transaction((tenantId: string, type: WebhookEventType, payload: Record<string, unknown>) => {
    const rows = deliveryArgs(listEp.all(tenantId), tenantId, type, payload);
    for (const args of rows) insertDel.run(...args);
    return rows.length;
  });
  const claim = db.transaction((now: number, limit: number, leaseMs: number, busy: ReadonlySet<string>) => {
    const out: Array<WebhookDelivery & { endpoint: WebhookEndpoint }> = [];
    const taken = new Set(busy);
    // Scan a few times `limit` rows: several due events of one endpoint should not hide other endpoints' events.
    for (const r of due.all(now, limit * 8)) {
      if (out.length >= limit) break;
      if (taken.has(r.endpoint_id)) continue;
      if (lease.run(now + leaseMs, r.id, r.next_attempt_at).changes === 0) continue;
      taken.add(r.endpoint_id);
      const ep = epById.get(r.endpoint_id);
      if (!ep) continue;
      out.push({ ...toDelivery(r), endpoint: toEndpoint(box, ep) });
    }
    return out;
  });
  const record = db.transaction(
    (
      id: string,
      a: { ok: boolean; statusCode?: number; error?: string; durationMs: number },
      next: { nextAttemptAt: number } | { dead: true } | { delivered: true },
    ) => {
      const d = getDel.get(id);
      if (!d) return;
      insertAttempt.run(
        id,
        d.endpoint_id,
        d.tenant_id,
        d.attempts + 1,
        nowIso(),
        a.ok ? 1 : 0,
        a.statusCode ?? null,
        a.error ?? null,
        Math.round(a.durationMs),
      );
      if ('delivered' in next) setDone.run(nowIso(), id);
      else if ('dead' in next) setDead.run(a.error ?? `HTTP ${a.statusCode}`, id);
      else setNext.run(next.nextAttemptAt, a.error ?? `HTTP ${a.statusCode}`, id);
    },
  );

  return {
    async countPending() {
      return pendingCount.get()?.n ?? 0;
    },
    async createEndpoint(tenantId, input) {
      const id = newId('we', 12);
      const now = nowIso();
      insertEp.run(
        id,
        tenantId,
        input.url,
        JSON.stringify(input.events),
        box.seal(input.secret ?? newSecret('whsec')),
        input.description ?? null,
        input.enabled === false ? 0 : 1,
        now,
        now,
      );
      return toRecord(getEp.get(tenantId, id)!);
    },
    async listEndpoints(tenantId) {
      return listEp.all(tenantId).map(toRecord);
    },
    async getEndpoint(tenantId, id) {
      const r = getEp.get(tenantId, id);
      return r && toRecord(r);
    },
    async updateEndpoint(tenantId, id, patch) {
      const r = getEp.get(tenantId, id);
      if (!r) return undefined;
      const cur = toRecord(r);
      updEp.run(
        patch.url ?? cur.url,
        JSON.stringify(patch.events ?? cur.events),
        patch.description ?? cur.description ?? null,
        (patch.enabled ?? cur.enabled) ? 1 : 0,
        nowIso(),
        tenantId,
        id,
      );
      return toRecord(getEp.get(tenantId, id)!);
    },
    async deleteEndpoint(tenantId, id) {
      const ok = delEp.run(tenantId, id).changes > 0;
      if (ok) delPending.run(id);
      return ok;
    },
    async enqueue(tenantId, type, payload) {
      return enqueue(tenantId, type, payload);
    },
    async claimDue(now, limit, leaseMs, busyEndpoints = new Set<string>()) {
      return claim(now, limit, leaseMs, busyEndpoints);
    },
    async recordAttempt(id, a, next) {
      record(id, a, next);
    },
    async listAttempts(tenantId, endpointId, p = {}) {
      const limit = clampLimit(p.limit);
      const rows = attempts.all(tenantId, endpointId, decodeCursor(p.cursor) ?? Number.MAX_SAFE_INTEGER, limit + 1);
      const more = rows.length > limit;
      if (more) rows.pop();
      const out: WebhookAttempt[] = rows.map(toAttempt);
      return { rows: out, ...(more ? { nextCursor: encodeCursor(rows[rows.length - 1]!.seq) } : {}) };
    },
    async getDelivery(id) {
      const r = getDel.get(id);
      return r && toDelivery(r);
    },
  };
}
