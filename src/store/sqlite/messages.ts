import { newId } from '../ids.js';
import type { MessageChannel, MessageCreate, MessageRecord, MessagesRepo } from '../types.js';
import { type Db, nowIso } from './database.js';

export interface MessageRow {
  id: string;
  tenant_id: string;
  channel: MessageChannel;
  contact: string;
  direction: 'inbound' | 'outbound';
  assistant_id: string | null;
  body: string;
  provider_message_id: string | null;
  status: string;
  created_at: string;
}

export const toMessage = (r: MessageRow): MessageRecord => ({
  id: r.id,
  tenantId: r.tenant_id,
  channel: r.channel,
  contact: r.contact,
  direction: r.direction,
  ...(r.assistant_id ? { assistantId: r.assistant_id } : {}),
  body: r.body,
  ...(r.provider_message_id ? { providerMessageId: r.provider_message_id } : {}),
  status: r.status,
  createdAt: r.created_at,
});

/** The INSERT values of a new message, in column order (both stores), its new id first. */
export function messageArgs(m: MessageCreate): [string, ...Array<string | null>] {
  return [
    newId('msg', 9),
    m.tenantId,
    m.channel,
    m.contact,
    m.direction,
    m.assistantId ?? null,
    m.body,
    m.providerMessageId ?? null,
    m.status,
    m.createdAt ?? nowIso(),
  ];
}

/** Default and largest history a conversation hands the model. */
export const HISTORY_DEFAULT = 20;
export const HISTORY_MAX = 200;

export function sqliteMessages(db: Db): MessagesRepo {
  // ON CONFLICT DO NOTHING on the (tenant, channel, provider id) index: a retried webhook inserts nothing.
  const insert = db.prepare(
    `INSERT INTO messages (id, tenant_id, channel, contact, direction, assistant_id, body, provider_message_id, status,
     created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  );
  const byId = db.prepare<[string], MessageRow>('SELECT * FROM messages WHERE id = ?');
  const last = db.prepare<[string, string, string, number], MessageRow>(
    'SELECT * FROM messages WHERE tenant_id = ? AND channel = ? AND contact = ? ORDER BY seq DESC LIMIT ?',
  );
  const setStatus = db.prepare<[string, string, string, string], MessageRow>(
    `UPDATE messages SET status = ? WHERE tenant_id = ? AND channel = ? AND provider_message_id = ? RETURNING *`,
  );
  const bind = db.prepare(
    `INSERT INTO message_contacts (tenant_id, channel, contact, assistant_id, updated_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (tenant_id, channel, contact) DO UPDATE SET assistant_id = excluded.assistant_id,
     updated_at = excluded.updated_at`,
  );
  const bound = db.prepare<[string, string, string], { assistant_id: string }>(
    'SELECT assistant_id FROM message_contacts WHERE tenant_id = ? AND channel = ? AND contact = ?',
  );
  return {
    async add(m) {
      const args = messageArgs(m);
      const r = insert.run(...args);
      const id = args[0];
      if (r.changes === 0) return undefined;
      return toMessage(byId.get(id)!);
    },
    async history(tenantId, channel, contact, limit = HISTORY_DEFAULT) {
      return last
        .all(tenantId, channel, contact, Math.max(1, Math.min(limit, HISTORY_MAX)))
        .reverse()
        .map(toMessage);
    },
    async setStatus(tenantId, channel, providerMessageId, status) {
      const r = setStatus.get(status, tenantId, channel, providerMessageId);
      return r && toMessage(r);
    },
    async bindContact(tenantId, channel, contact, assistantId) {
      bind.run(tenantId, channel, contact, assistantId, nowIso());
    },
    async contactAssistant(tenantId, channel, contact) {
      return bound.get(tenantId, channel, contact)?.assistant_id;
    },
  };
}
