import { newId } from '../ids.js';
import { nowIso } from '../sqlite/database.js';
import { type OutboundRow, outboundInsertArgs, toJob } from '../sqlite/outbound.js';
import type { OutboundRepo } from '../types.js';
import { one, type Pool, run, tx } from './database.js';

export function pgOutbound(pool: Pool): OutboundRepo {
  const get = (id: string) => one<OutboundRow>(pool, 'SELECT * FROM outbound_queue WHERE id = $1', [id]);
  return {
    async countQueued() {
      const r = await one<{ n: string }>(
        pool,
        "SELECT COUNT(*) AS n FROM outbound_queue WHERE status IN ('queued', 'dialing')",
      );
      return Number(r?.n ?? 0);
    },
    async enqueue(input) {
      const id = newId('obq', 12);
      const r = await one<OutboundRow>(
        pool,
        `INSERT INTO outbound_queue (id, tenant_id, call_id, assistant_id, to_number, from_number, channel, metadata,
           status, attempts, next_attempt_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', 0, $9, $10, $11) RETURNING *`,
        outboundInsertArgs(id, input),
      );
      return toJob(r!);
    },
    async claimNext(now, leaseMs) {
      // SKIP LOCKED: engines polling at the same moment each take a different row instead of queueing on one lock.
      // A 'dialing' job whose lease expired belongs to an engine that died mid-dial: it is due again.
      const r = await one<OutboundRow>(
        pool,
        `UPDATE outbound_queue SET status = 'dialing', attempts = attempts + 1, next_attempt_at = $2, updated_at = $3
         WHERE id = (
           SELECT id FROM outbound_queue WHERE status IN ('queued', 'dialing') AND next_attempt_at <= $1
           ORDER BY next_attempt_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED
         ) RETURNING *`,
        [now, now + leaseMs, nowIso()],
      );
      return r && toJob(r);
    },
    async finish(id, status, error) {
      await run(pool, 'UPDATE outbound_queue SET status = $1, error = $2, updated_at = $3 WHERE id = $4', [
        status,
        error ?? null,
        nowIso(),
        id,
      ]);
    },
    async retryAt(id, at, error) {
      await run(
        pool,
        "UPDATE outbound_queue SET status = 'queued', next_attempt_at = $1, error = $2, updated_at = $3 WHERE id = $4",
        [at, error ?? null, nowIso(), id],
      );
    },
    async requeue(id, at, error) {
      await run(
        pool,
        `UPDATE outbound_queue SET status = 'queued', attempts = GREATEST(attempts - 1, 0), next_attempt_at = $1,
         error = $2, updated_at = $3 WHERE id = $4`,
        [at, error ?? null, nowIso(), id],
      );
    },
    async get(id) {
      const r = await get(id);
      return r && toJob(r);
    },
    async claimIdempotencyKey(tenantId, key, ttlMs) {
      return tx(pool, async (c) => {
        const now = Date.now();
        await run(c, 'DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND created_at < $3', [
          tenantId,
          key,
          now - ttlMs,
        ]);
        const won = await run(
          c,
          'INSERT INTO idempotency_keys (tenant_id, key, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
          [tenantId, key, now],
        );
        if (won > 0) return { ok: true as const };
        const callId = (
          await one<{ call_id: string | null }>(
            c,
            'SELECT call_id FROM idempotency_keys WHERE tenant_id = $1 AND key = $2',
            [tenantId, key],
          )
        )?.call_id;
        return callId ? { ok: false as const, callId } : { ok: false as const };
      });
    },
    async bindIdempotencyKey(tenantId, key, callId) {
      await run(pool, 'UPDATE idempotency_keys SET call_id = $1 WHERE tenant_id = $2 AND key = $3', [
        callId,
        tenantId,
        key,
      ]);
    },
    async releaseIdempotencyKey(tenantId, key) {
      await run(pool, 'DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2', [tenantId, key]);
    },
  };
}
