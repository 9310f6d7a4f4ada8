import type { CampaignsRepo } from '../campaign-types.js';
import { campaignsRepo } from '../campaigns.js';
import { all, type Pool, run } from './database.js';

/** `?` placeholders (the shared SQL of src/store/campaigns.ts) numbered for Postgres. */
const numbered = (sql: string): string => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

export function pgCampaigns(pool: Pool): CampaignsRepo {
  return campaignsRepo({
    all: <R>(sql: string, args: unknown[] = []) => all(pool, numbered(sql), args) as Promise<R[]>,
    run: (sql: string, args: unknown[] = []) => run(pool, numbered(sql), args),
  });
}
