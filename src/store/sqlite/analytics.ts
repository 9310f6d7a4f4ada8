import { clampLimit, decodeCursor, encodeCursor } from '../cursor.js';
import type { AnalyticsKind, AnalyticsRepo, AnalyticsRow } from '../types.js';
import { type Db, nowIso, parseJson } from './database.js';

export interface AnalyticsDbRow {
  seq: number;
  tenant_id: string;
  kind: AnalyticsKind;
  at: string;
  data: string;
}

export const toAnalyticsRow = (r: AnalyticsDbRow): AnalyticsRow => ({
  id: String(r.seq),
  tenantId: r.tenant_id,
  kind: r.kind,
  at: r.at,
  data: parseJson<Record<string, unknown>>(r.data, {}),
});

export function sqliteAnalytics(db: Db): AnalyticsRepo {
  const insert = db.prepare('INSERT INTO analytics_events (tenant_id, kind, at, data) VALUES (?, ?, ?, ?)');
  const page = db.prepare<[string, AnalyticsKind, number, string, string, number], AnalyticsDbRow>(
    `SELECT * FROM analytics_events WHERE tenant_id = ? AND kind = ? AND seq < ? AND at >= ? AND at <= ?
     ORDER BY seq DESC LIMIT ?`,
  );
  return {
    async record(tenantId, kind, data, at) {
      insert.run(tenantId, kind, at ?? nowIso(), JSON.stringify(data));
    },
    async list(tenantId, kind, f) {
      const limit = clampLimit(f.limit);
      // '9' sorts after every ISO timestamp, '' before: open-ended ranges without a second statement.
      const rows = page.all(
        tenantId,
        kind,
        decodeCursor(f.cursor) ?? Number.MAX_SAFE_INTEGER,
        f.from ?? '',
        f.to ?? '9',
        limit + 1,
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
