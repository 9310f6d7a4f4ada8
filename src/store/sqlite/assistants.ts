import type { Assistant, AssistantConfig } from '../../assistant.js';
import { clampLimit, decodeCursor, encodeCursor } from '../cursor.js';
import { newId } from '../ids.js';
import type { AssistantsRepo } from '../types.js';
import { type Db, nowIso, parseJson } from './database.js';

export interface AssistantRow {
  seq: number;
  id: string;
  api_key: string;
  tenant_id: string;
  config: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export function toAssistant(r: AssistantRow): Assistant {
  return {
    id: r.id,
    assistantApiKey: r.api_key,
    tenantId: r.tenant_id,
    config: parseJson<AssistantConfig>(r.config, {}),
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function sqliteAssistants(db: Db): AssistantsRepo {
  const cols = 'rowid AS seq, *';
  const insert = db.prepare(
    'INSERT INTO assistants (id, api_key, tenant_id, config, version, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)',
  );
  const byId = db.prepare<[string, string], AssistantRow>(
    `SELECT ${cols} FROM assistants WHERE tenant_id = ? AND id = ?`,
  );
  const byKey = db.prepare<[string, string], AssistantRow>(
    `SELECT ${cols} FROM assistants WHERE tenant_id = ? AND api_key = ?`,
  );
  const find = db.prepare<[string, string], AssistantRow>(`SELECT ${cols} FROM assistants WHERE api_key = ? OR id = ?`);
  const page = db.prepare<[string, number, number], AssistantRow>(
    `SELECT ${cols} FROM assistants WHERE tenant_id = ? AND rowid > ? ORDER BY rowid LIMIT ?`,
  );
  const update = db.prepare(
    'UPDATE assistants SET config = ?, version = version + 1, updated_at = ? WHERE tenant_id = ? AND id = ?',
  );
  const del = db.prepare('DELETE FROM assistants WHERE tenant_id = ? AND id = ?');
  const version = db.prepare<[string], { version: number }>('SELECT version FROM assistants WHERE id = ?');
  return {
    async create(tenantId, config) {
      const id = newId('ag', 12);
      const now = nowIso();
      insert.run(id, newId('ast', 24), tenantId, JSON.stringify(config), now, now);
      return toAssistant(byId.get(tenantId, id)!);
    },
    async get(tenantId, id) {
      const r = byId.get(tenantId, id);
      return r && toAssistant(r);
    },
    async getByKey(tenantId, key) {
      const r = byKey.get(tenantId, key);
      return r && toAssistant(r);
    },
    async find(idOrKey) {
      const r = find.get(idOrKey, idOrKey);
      return r && toAssistant(r);
    },
    async list(tenantId, p = {}) {
      const limit = clampLimit(p.limit, 100);
      const rows = page.all(tenantId, decodeCursor(p.cursor) ?? 0, limit + 1);
      const more = rows.length > limit;
      if (more) rows.pop();
      return { rows: rows.map(toAssistant), ...(more ? { nextCursor: encodeCursor(rows[rows.length - 1]!.seq) } : {}) };
    },
    async update(tenantId, id, config) {
      if (update.run(JSON.stringify(config), nowIso(), tenantId, id).changes === 0) return undefined;
      return toAssistant(byId.get(tenantId, id)!);
    },
    async delete(tenantId, id) {
      return del.run(tenantId, id).changes > 0;
    },
    async getVersion(id) {
      return version.get(id)?.version;
    },
  };
}
