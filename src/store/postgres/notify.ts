import pg from 'pg';
import type { ControlChannel, ControlMessage } from '../types.js';
import type { Pool } from './database.js';

const CHANNEL = 'voice_engine_control';

/**
 * Control messages between engines over Postgres LISTEN/NOTIFY: every engine listens on one channel and keeps the
 * messages addressed to it. The listener has its own connection (LISTEN is per session) and reconnects when
 * Postgres restarts; a message published while an engine's listener is reconnecting is lost (the API answers 202,
 * and the call is still ended by its own timers or by the caller), which is the documented limit.
 */
export function pgControl(url: string, pool: Pool): ControlChannel {
  return {
    async publish(msg) {
      await pool.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(msg)]);
    },
    async subscribe(engineId, handler: (msg: ControlMessage) => void) {
      let client: pg.Client | undefined;
      let stopped = false;
      let retry: NodeJS.Timeout | undefined;
      const connect = async (): Promise<void> => {
        const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
        // Lost or never made: drop this client and try again in a second (only once per client).
        const lost = () => {
          if (client !== c) return;
          client = undefined;
          c.end().catch(() => {});
          if (stopped) return;
          retry = setTimeout(() => void connect().catch(() => {}), 1000);
          retry.unref();
        };
        c.on('notification', (n) => {
          if (!n.payload) return;
          let msg: ControlMessage;
          try {
            msg = JSON.parse(n.payload) as ControlMessage;
          } catch {
            return;
          }
          if (msg.to === engineId) handler(msg);
        });
        c.on('error', lost);
        c.on('end', lost);
        client = c;
        try {
          await c.connect();
          await c.query(`LISTEN ${CHANNEL}`);
        } catch (err) {
          lost();
          throw err;
        }
      };
      await connect();
      return async () => {
        stopped = true;
        if (retry) clearTimeout(retry);
        await client?.end().catch(() => {});
      };
    },
  };
}
