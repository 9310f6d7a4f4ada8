import type { Assistant, AssistantConfig } from '../../assistant.js';
import { clampLimit, decodeCursor, encodeCursor } from '../cursor.js';
import { newId } from '../ids.js';
import {
  type AssistantKeyRow,
  assistantKeyColumns,
  assistantKeyUpdates,
  type SecretBox,
  sha256Hex,
} from '../secrets.js';
import type { AssistantsRepo } from '../types.js';
import { type Db, nowIso, parseJson } from './database.js';

export interface AssistantRow {
  seq: number;
  id: string;
  /** SHA-256 (hex) of the assistant API key: what lookups compare. */
  api_key: string;
  /** The key sealed with the secrets key (src/store/secrets.ts): what the owner tenant is shown. */
  api_key_enc: string | null;
  tenant_id: string;
  config: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export function toAssistant(box: SecretBox, r: AssistantRow): Assistant {
  return {
    id: r.id,
    assistantApiKey: box.open(r.api_key_enc ?? r.api_key),
    tenantId: r.tenant_id,
    config: parseJson<AssistantConfig>(r.config, {}),
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function sqliteAssistants(db: Db, box: SecretBox): AssistantsRepo {
  const cols = 'rowid AS seq, *';
  const keyRows = db.prepare<[], AssistantKeyRow>('SELECT id, api_key, api_key_enc FROM assistants');
  const setKey = db.prepare('UPDATE assistants SET api_key = ?, api_key_enc = ? WHERE id = ?');
  db.transaction(() => {
    for (const u of assistantKeyUpdates(box, keyRows.all())) setKey.run(u.hash, u.sealed, u.id);
  })();
  const toRow = (r: AssistantRow) => toAssistant(box, r);
  const insert = db.prepare(
    `INSERT INTO assistants (id, api_key, api_key_enc, tenant_id, config, version, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, 1, ?, ?)`,
  );
  const byId = db.prepare<[string, string], AssistantRow>(
    `SELECT ${cols} FROM assistants WHERE tenant_id = ? AND id = ?`,
  );
  const byKey = db.prepare<[string, string], AssistantRow>(
    `SELECT ${cols} FROM assistants WHERE tenant_id = ? AND api_key = ?`,
  );
  const findKey = db.prepare<[string], AssistantRow>(`SELECT ${cols} FROM assistants WHERE api_key = ?`);
  const findId = db.prepare<[string], AssistantRow>(`SELECT ${cols} FROM assistants WHERE id = ?`);
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
      const { hash, sealed } = assistantKeyColumns(box, newId('ast', 24));
      insert.run(id, hash, sealed, tenantId, JSON.stringify(config), now, now);
      return toRow(byId.get(tenantId, id)!);
    },
    async get(tenantId, id) {
      const r = byId.get(tenantId, id);
      return r && toRow(r);
    },
    async getByKey(tenantId, key) {
      const r = byKey.get(tenantId, sha256Hex(key));
      return r && toRow(r);
    },
    async findByKey(key) {
      const r = findKey.get(sha256Hex(key));
      return r && toRow(r);
    },
    async findById(id) {
      const r = findId.get(id);
      return r && toRow(r);
    },
    async list(tenantId, p = {}) {
      const limit = clampLimit(p.limit, 100);
      const rows = page.all(tenantId, decodeCursor(p.cursor) ?? 0, limit + 1);
      const more = rows.length > limit;
      if (more) rows.pop();
      return { rows: rows.map(toRow), ...(more ? { nextCursor: encodeCursor(rows[rows.length - 1]!.seq) } : {}) };
    },
    async update(tenantId, id, config) {
      if (update.run(JSON.stringify(config), nowIso(), tenantId, id).changes === 0) return undefined;
      return toRow(byId.get(tenantId, id)!);
    },
    async delete(tenantId, id) {
      return del.run(tenantId, id).changes > 0;
    },
    async getVersion(id) {
      return version.get(id)?.version;
    },
  };
}
