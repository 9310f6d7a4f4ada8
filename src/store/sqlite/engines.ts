import { ACTIVE_CALL_STATUSES, type EnginesRepo, type RateCountersRepo } from '../types.js';
import { type CallEventRow, type CallRow, toCallRecord } from './calls.js';
import type { Db } from './database.js';

const ACTIVE = ACTIVE_CALL_STATUSES.map((s) => `'${s}'`).join(',');

export function sqliteEngines(db: Db): EnginesRepo {
  const register = db.prepare(
    `INSERT INTO engines (id, host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
  );
  const beat = db.prepare('UPDATE engines SET heartbeat_at = ? WHERE id = ?');
  const del = db.prepare('DELETE FROM engines WHERE id = ?');
  // A call is orphaned when its owner is missing from `engines` or has not heartbeated since `?`.
  const close = db.prepare<[string, string, number], CallRow>(
    `UPDATE calls SET status = 'failed', end_reason = ?, ended_at = ?
     WHERE status IN (${ACTIVE}) AND owner_id IS NOT NULL
       AND owner_id NOT IN (SELECT id FROM engines WHERE heartbeat_at >= ?)
     RETURNING rowid AS seq, *`,
  );
  const forget = db.prepare('DELETE FROM engines WHERE heartbeat_at < ?');
  const events = db.prepare<[string], CallEventRow>(
    'SELECT type, at, data FROM call_events WHERE call_id = ? ORDER BY seq',
  );
  const reap = db.transaction((now: number, timeoutMs: number, endReason: string) => {
    const rows = close.all(endReason, new Date(now).toISOString(), now - timeoutMs);
    forget.run(now - timeoutMs);
    return rows.map((r) => toCallRecord(r, events.all(r.id)));
  });
  return {
    async register(id, info, now = Date.now()) {
      register.run(id, info.host, info.pid, now, now);
    },
    async heartbeat(id, now = Date.now()) {
      beat.run(now, id);
    },
    async unregister(id) {
      del.run(id);
    },
    async reapDead(now, timeoutMs, endReason) {
      return reap.immediate(now, timeoutMs, endReason);
    },
  };
}

export function sqliteRateCounters(db: Db): RateCountersRepo {
  const hit = db.prepare<[string, number], { count: number }>(
    `INSERT INTO rate_counters (key, window_start, count) VALUES (?, ?, 1)
     ON CONFLICT(key, window_start) DO UPDATE SET count = count + 1 RETURNING count`,
  );
  const prev = db.prepare<[string, number], { count: number }>(
    'SELECT count FROM rate_counters WHERE key = ? AND window_start = ?',
  );
  const sweep = db.prepare('DELETE FROM rate_counters WHERE window_start < ?');
  let swept = 0;
  return {
    async hit(key, windowMs, now) {
      const start = now - (now % windowMs);
      // Windows older than the previous one are never read again: drop them once per window.
      if (start > swept) {
        sweep.run(start - windowMs);
        swept = start;
      }
      return { current: hit.get(key, start)!.count, previous: prev.get(key, start - windowMs)?.count ?? 0 };
    },
  };
}
