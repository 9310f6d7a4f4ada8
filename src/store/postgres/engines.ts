import { type CallEventRow, type CallRow, toCallRecord } from '../sqlite/calls.js';
import { ACTIVE_CALL_STATUSES, type EnginesRepo, type RateCountersRepo } from '../types.js';
import { all, one, type Pool, run } from './database.js';

export function pgEngines(pool: Pool): EnginesRepo {
  return {
    async register(id, info, now = Date.now()) {
      await run(
        pool,
        `INSERT INTO engines (id, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
        [id, info.host, info.pid, now],
      );
    },
    async heartbeat(id, now = Date.now()) {
      await run(pool, 'UPDATE engines SET heartbeat_at = $1 WHERE id = $2', [now, id]);
    },
    async unregister(id) {
      await run(pool, 'DELETE FROM engines WHERE id = $1', [id]);
    },
    async reapDead(now, timeoutMs, endReason) {
      // SKIP LOCKED: engines reaping at the same moment split the orphans instead of closing one call twice (and a
      // call's row re-checked under its lock is no longer line-holding once another engine closed it).
      const rows = await all<CallRow>(
        pool,
        `UPDATE calls SET status = 'failed', end_reason = $1, ended_at = $2
         WHERE id IN (
           SELECT id FROM calls WHERE status = ANY($3) AND owner_id IS NOT NULL
             AND owner_id NOT IN (SELECT id FROM engines WHERE heartbeat_at >= $4)
           FOR UPDATE SKIP LOCKED
         ) RETURNING *`,
        [endReason, new Date(now).toISOString(), ACTIVE_CALL_STATUSES, now - timeoutMs],
      );
      await run(pool, 'DELETE FROM engines WHERE heartbeat_at < $1', [now - timeoutMs]);
      return Promise.all(
        rows.map(async (r) =>
          toCallRecord(
            r,
            await all<CallEventRow>(pool, 'SELECT type, at, data FROM call_events WHERE call_id = $1 ORDER BY seq', [
              r.id,
            ]),
          ),
        ),
      );
    },
  };
}

export function pgRateCounters(pool: Pool): RateCountersRepo {
  let swept = 0;
  return {
    async hit(key, windowMs, now) {
      const start = now - (now % windowMs);
      if (start > swept) {
        swept = start;
        await run(pool, 'DELETE FROM rate_counters WHERE window_start < $1', [start - windowMs]);
      }
      // One round trip: the upsert counts this request atomically (concurrent engines serialize on the row), the
      // sub-select reads the previous window.
      const r = await one<{ current: number; previous: number | null }>(
        pool,
        `WITH cur AS (
           INSERT INTO rate_counters (key, window_start, count) VALUES ($1, $2, 1)
           ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + 1 RETURNING count
         )
         SELECT (SELECT count FROM cur) AS current,
           (SELECT count FROM rate_counters WHERE key = $1 AND window_start = $3) AS previous`,
        [key, start, start - windowMs],
      );
      return { current: r!.current, previous: r!.previous ?? 0 };
    },
  };
}
