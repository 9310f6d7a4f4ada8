import { nowIso } from '../sqlite/database.js';
import { HISTORY_DEFAULT, HISTORY_MAX, type MessageRow, messageArgs, toMessage } from '../sqlite/messages.js';
import type { MessagesRepo } from '../types.js';
import { all, one, type Pool, run } from './database.js';

export function pgMessages(pool: Pool): MessagesRepo {
  return {
    async add(m) {
      const r = await one<MessageRow>(
        pool,
        `INSERT INTO messages (id, tenant_id, channel, contact, direction, assistant_id, body, provider_message_id,
         status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING *`,
        messageArgs(m),
      );
      return r && toMessage(r);
    },
    async history(tenantId, channel, contact, limit = HISTORY_DEFAULT) {
      const rows = await all<MessageRow>(
        pool,
        'SELECT * FROM messages WHERE tenant_id = $1 AND channel = $2 AND contact = $3 ORDER BY seq DESC LIMIT $4',
        [tenantId, channel, contact, Math.max(1, Math.min(limit, HISTORY_MAX))],
      );
      return rows.reverse().map(toMessage);
    },
    async setStatus(tenantId, channel, providerMessageId, status) {
      const r = await one<MessageRow>(
        pool,
        `UPDATE messages SET status = $1 WHERE tenant_id = $2 AND channel = $3 AND provider_message_id = $4
         RETURNING *`,
        [status, tenantId, channel, providerMessageId],
      );
      return r && toMessage(r);
    },
    async bindContact(tenantId, channel, contact, assistantId) {
      await run(
        pool,
        `INSERT INTO message_contacts (tenant_id, channel, contact, assistant_id, updated_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, channel, contact) DO UPDATE
         SET assistant_id = EXCLUDED.assistant_id, updated_at = EXCLUDED.updated_at`,
        [tenantId, channel, contact, assistantId, nowIso()],
      );
    },
    async contactAssistant(tenantId, channel, contact) {
      return (
        await one<{ assistant_id: string }>(
          pool,
          'SELECT assistant_id FROM message_contacts WHERE tenant_id = $1 AND channel = $2 AND contact = $3',
          [tenantId, channel, contact],
        )
      )?.assistant_id;
    },
  };
}
