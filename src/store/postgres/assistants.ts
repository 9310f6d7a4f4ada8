import { clampLimit, decodeCursor, encodeCursor } from '../cursor.js';
import { newId } from '../ids.js';
import { type AssistantRow, toAssistant } from '../sqlite/assistants.js';
import { nowIso } from '../sqlite/database.js';
import type { AssistantsRepo } from '../types.js';
import { all, one, type Pool, run } from './database.js';

export function pgAssistants(pool: Pool): AssistantsRepo {
  const byId = (tenantId: string, id: string) =>
    one<AssistantRow>(pool, 'SELECT * FROM assistants WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return {
    async create(tenantId, config) {
      const id = newId('ag', 12);
      const now = nowIso();
      await run(
        pool,
        `INSERT INTO assistants (id, api_key, tenant_id, config, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 1, $5, $6)`,
        [id, newId('ast', 24), tenantId, JSON.stringify(config), now, now],
      );
      return toAssistant((await byId(tenantId, id))!);
    },
    async get(tenantId, id) {
      const r = await byId(tenantId, id);
      return r && toAssistant(r);
    },
    async getByKey(tenantId, key) {
      const r = await one<AssistantRow>(pool, 'SELECT * FROM assistants WHERE tenant_id = $1 AND api_key = $2', [
        tenantId,
        key,
      ]);
      return r && toAssistant(r);
    },
    async find(idOrKey) {
      const r = await one<AssistantRow>(pool, 'SELECT * FROM assistants WHERE api_key = $1 OR id = $1', [idOrKey]);
      return r && toAssistant(r);
    },
    async list(tenantId, p = {}) {
      const limit = clampLimit(p.limit, 100);
      const rows = await all<AssistantRow>(
        pool,
        'SELECT * FROM assistants WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
        [tenantId, decodeCursor(p.cursor) ?? 0, limit + 1],
      );
      const more = rows.length > limit;
      if (more) rows.pop();
      return { rows: rows.map(toAssistant), ...(more ? { nextCursor: encodeCursor(rows[rows.length - 1]!.seq) } : {}) };
    },
    async update(tenantId, id, config) {
      const n = await run(
        pool,
        'UPDATE assistants SET config = $1, version = version + 1, updated_at = $2 WHERE tenant_id = $3 AND id = $4',
        [JSON.stringify(config), nowIso(), tenantId, id],
      );
      if (n === 0) return undefined;
      return toAssistant((await byId(tenantId, id))!);
    },
    async delete(tenantId, id) {
      return (await run(pool, 'DELETE FROM assistants WHERE tenant_id = $1 AND id = $2', [tenantId, id])) > 0;
    },
    async getVersion(id) {
      return (await one<{ version: number }>(pool, 'SELECT version FROM assistants WHERE id = $1', [id]))?.version;
    },
  };
}
