import { clampLimit, decodeCursor, encodeCursor } from '../cursor.js';
import { type AnalyticsDbRow, toAnalyticsRow } from '../sqlite/analytics.js';
import { nowIso } from '../sqlite/database.js';
import type { AnalyticsRepo } from '../types.js';
import { all, type Pool, run } from './database.js';

export function pgAnalytics(pool: Pool): AnalyticsRepo {
  return {
    async record(tenantId, kind, data, at) {
      await run(pool, 'INSERT INTO analytics_events (tenant_id, kind, at, data) VALUES ($1, $2, $3, $4)', [
        tenantId,
        kind,
        at ?? nowIso(),
        JSON.stringify(data),
      ]);
    },
    async list(tenantId, kind, f) {
      const limit = clampLimit(f.limit);
      const rows = await all<AnalyticsDbRow>(
        pool,
        `SELECT * FROM analytics_events WHERE tenant_id = $1 AND kind = $2 AND seq < $3 AND at >= $4 AND at <= $5
         ORDER BY seq DESC LIMIT $6`,
        [tenantId, kind, decodeCursor(f.cursor) ?? Number.MAX_SAFE_INTEGER, f.from ?? '', f.to ?? '9', limit + 1],
      );
      const more = rows.length > limit;
      if (more) rows.pop();
      return {
        rows: rows.map(toAnalyticsRow),
        ...(more ? { nextCursor: encodeCursor(rows[rows.length - 1]!.seq) } : {}),
      };
    },
  };
}
