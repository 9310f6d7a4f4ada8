import { newId } from '../ids.js';
import type { OutboundJob, OutboundRepo } from '../types.js';
import { type Db, nowIso, parseJson } from './database.js';

export interface OutboundRow {
  id: string;
  tenant_id: string;
  call_id: string;
  assistant_id: string;
  to_number: string;
  from_number: string | null;
  channel: string;
  metadata: string;
  status: OutboundJob['status'];
  attempts: number;
  next_attempt_at: number;
  error: string | null;
  created_at: string;
}
export const toJob = (r: OutboundRow): OutboundJob => ({
  id: r.id,
  tenantId: r.tenant_id,
  callId: r.call_id,
  assistantId: r.assistant_id,
  to: r.to_number,
  ...(r.from_number ? { from: r.from_number } : {}),
  channel: r.channel,
  metadata: parseJson<Record<string, unknown>>(r.metadata, {}),
  status: r.status,
  attempts: r.attempts,
  ...(r.error ? { error: r.error } : {}),
  createdAt: r.created_at,
});

/** The insert's arguments (id … updated_at); shared by both stores. */
export function outboundInsertArgs(id: string, input: Parameters<OutboundRepo['enqueue']>[0]): unknown[] {
  const now = nowIso();
  return [
    id,
    input.tenantId,
    input.callId,
    input.assistantId,
    input.to,
    input.from ?? null,
    input.channel ?? 'twilio',
    JSON.stringify(input.metadata ?? {}),
    Date.now(),
    now,
    now,
  ];
}

export function sqliteOutbound(db: Db): OutboundRepo {
  const insert = db.prepare(
    `INSERT INTO outbound_queue (id, tenant_id, call_id, assistant_id, to_number, from_number, channel, metadata, status,
       attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?)`,
  );
  const get = db.prepare<[string], OutboundRow>('SELECT * FROM outbound_queue WHERE id = ?');
  // A 'dialing' job whose lease expired belongs to a process that died mid-dial: take it again.
  const next = db.prepare<[number], OutboundRow>(
    `SELECT * FROM outbound_queue WHERE status IN ('queued', 'dialing') AND next_attempt_at <= ?
     ORDER BY next_attempt_at, created_at LIMIT 1`,
  );
  const lease = db.prepare(
    `UPDATE outbound_queue SET status = 'dialing', attempts = attempts + 1, next_attempt_at = ?, updated_at = ?
     WHERE id = ? AND next_attempt_at = ?`,
  );
  const queued = db.prepare<[], { n: number }>(
    "SELECT COUNT(*) AS n FROM outbound_queue WHERE status IN ('queued', 'dialing')",
  );
  const finish = db.prepare('UPDATE outbound_queue SET status = ?, error = ?, updated_at = ? WHERE id = ?');
  const requeue = db.prepare(
    `UPDATE outbound_queue SET status = 'queued', attempts = MAX(attempts - 1, 0), next_attempt_at = ?, error = ?,
     updated_at = ? WHERE id = ?`,
  );
  const retry = db.prepare(
    "UPDATE outbound_queue SET status = 'queued', next_attempt_at = ?, error = ?, updated_at = ? WHERE id = ?",
  );
  const idemExpire = db.prepare('DELETE FROM idempotency_keys WHERE tenant_id = ? AND key = ? AND created_at < ?');
  const idemInsert = db.prepare(
    'INSERT INTO idempotency_keys (tenant_id, key, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const idemGet = db.prepare<[string, string], { call_id: string | null }>(
    'SELECT call_id FROM idempotency_keys WHERE tenant_id = ? AND key = ?',
  );
  const idemBind = db.prepare('UPDATE idempotency_keys SET call_id = ? WHERE tenant_id = ? AND key = ?');
  const idemDel = db.prepare('DELETE FROM idempotency_keys WHERE tenant_id = ? AND key = ?');
  const idemClaim = db.transaction((tenantId: string, key: string, ttlMs: number) => {
    const now = Date.now();
    idemExpire.run(tenantId, key, now - ttlMs);
    if (idemInsert.run(tenantId, key, now).changes > 0) return { ok: true as const };
    const callId = idemGet.get(tenantId, key)?.call_id;
    return callId ? { ok: false as const, callId } : { ok: false as const };
  });
  const claim = db.transaction((now: number, leaseMs: number) => {
    const r = next.get(now);
    if (!r || lease.run(now + leaseMs, nowIso(), r.id, r.next_attempt_at).changes === 0) return undefined;
    return toJob(get.get(r.id)!);
  });
  return {
    async countQueued() {
      return queued.get()?.n ?? 0;
    },
    async enqueue(input) {
      const id = newId('obq', 12);
      insert.run(...outboundInsertArgs(id, input));
      return toJob(get.get(id)!);
    },
    async claimNext(now, leaseMs) {
      return claim(now, leaseMs);
    },
    async finish(id, status, error) {
      finish.run(status, error ?? null, nowIso(), id);
    },
    async retryAt(id, at, error) {
      retry.run(at, error ?? null, nowIso(), id);
    },
    async requeue(id, at, error) {
      requeue.run(at, error ?? null, nowIso(), id);
    },
    async get(id) {
      const r = get.get(id);
      return r && toJob(r);
    },
    async claimIdempotencyKey(tenantId, key, ttlMs) {
      return idemClaim(tenantId, key, ttlMs);
    },
    async bindIdempotencyKey(tenantId, key, callId) {
      idemBind.run(callId, tenantId, key);
    },
    async releaseIdempotencyKey(tenantId, key) {
      idemDel.run(tenantId, key);
    },
  };
}
