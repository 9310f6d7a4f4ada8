import { clampLimit, decodeCursor, encodeCursor } from '../cursor.js';
import { newId } from '../ids.js';
import {
  type AssistantKeyRow,
  assistantKeyColumns,
  assistantKeyUpdates,
  type SecretBox,
  sha256Hex,
} from '../secrets.js';
import { type AssistantRow, toAssistant as rowToAssistant } from '../sqlite/assistants.js';
import { nowIso } from '../sqlite/database.js';
import type { AssistantsRepo } from '../types.js';
import { all, one, type Pool, run } from './database.js';

/** Brings stored keys to (hash, sealed under the current key) when the store opens (src/store/secrets.ts). */
export async function resealPgAssistantKeys(pool: Pool, box: SecretBox): Promise<void> {
  const rows = await all<AssistantKeyRow>(pool, 'SELECT id, api_key, api_key_enc FROM assistants', []);
  for (const u of assistantKeyUpdates(box, rows)) {
    await run(pool, 'UPDATE assistants SET api_key = $1, api_key_enc = $2 WHERE id = $3', [u.hash, u.sealed, u.id]);
  }
}

export function pgAssistants(pool: Pool, box: SecretBox): AssistantsRepo {
  const toAssistant = (r: AssistantRow) => rowToAssistant(box, r);
  const byId = (tenantId: string, id: string) =>
    one<AssistantRow>(pool, 'SELECT * FROM assistants WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return {
    async create(tenantId, config) {
      const id = newId('ag', 12);
      const now = nowIso();
      const { hash, sealed } = assistantKeyColumns(box, newId('ast', 24));
      await run(
        pool,
        `INSERT INTO assistants (id, api_key, api_key_enc, tenant_id, config, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7)`,
        [id, hash, sealed, tenantId, JSON.stringify(config), now, now],
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
        sha256Hex(key),
      ]);
      return r && toAssistant(r);
    },
    async findByKey(key) {
      const r = await one<AssistantRow>(pool, 'SELECT * FROM assistants WHERE api_key = $1', [sha256Hex(key)]);
      return r && toAssistant(r);
    },
    async findById(id) {
      const r = await one<AssistantRow>(pool, 'SELECT * FROM assistants WHERE id = $1', [id]);
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
