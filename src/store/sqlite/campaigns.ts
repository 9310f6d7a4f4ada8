import type { Statement } from 'better-sqlite3';
import type { CampaignsRepo } from '../campaign-types.js';
import { campaignsRepo } from '../campaigns.js';
import type { Db } from './database.js';

/** The campaigns repository on SQLite: the shared SQL (src/store/campaigns.ts), statements prepared once each. */
export function sqliteCampaigns(db: Db): CampaignsRepo {
  const cache = new Map<string, Statement>();
  const stmt = (sql: string): Statement => {
    let s = cache.get(sql);
    if (!s) {
      s = db.prepare(sql);
      // Bulk inserts differ by their row count: only the fixed statements are worth keeping.
      if (cache.size < 64) cache.set(sql, s);
    }
    return s;
  };
  return campaignsRepo({
    async all<R>(sql: string, args: unknown[] = []) {
      return stmt(sql).all(...args) as R[];
    },
    async run(sql: string, args: unknown[] = []) {
      return stmt(sql).run(...args).changes;
    },
  });
}
