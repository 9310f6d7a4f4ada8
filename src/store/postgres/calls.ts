import { clampLimit, decodeCursor, encodeCursor } from '../cursor.js';
import { newId } from '../ids.js';
import { type CallEventRow, type CallRow, callInsertArgs, PATCH_COLUMNS, toCallRecord } from '../sqlite/calls.js';
import { nowIso } from '../sqlite/database.js';
import { ACTIVE_CALL_STATUSES, type CallRecord, type CallsRepo } from '../types.js';
import { all, one, type Pool, run, tx } from './database.js';

export function pgCalls(pool: Pool): CallsRepo {
  const withEvents = async (r: CallRow): Promise<CallRecord> =>
    toCallRecord(
      r,
      await all<CallEventRow>(pool, 'SELECT type, at, data FROM call_events WHERE call_id = $1 ORDER BY seq', [r.id]),
    );
  const byId = (tenantId: string, id: string) =>
    one<CallRow>(pool, 'SELECT * FROM calls WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return {
    async create(input) {
      const id = newId('c', 12);
      await run(
        pool,
        `INSERT INTO calls (id, tenant_id, assistant_id, direction, status, from_number, to_number, protocol,
           provider_call_id, metadata, created_at, owner_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        callInsertArgs(id, input),
      );
      return withEvents((await byId(input.tenantId, id))!);
    },
    async admit(tenantId, action, refuse, now = Date.now()) {
      // A transaction-scoped advisory lock per tenant: every engine admitting a call for this tenant queues here, and
      // counts only after the previous admission committed. Everything runs on this one client, so a waiting engine
      // holds one pooled connection at most and the lock holder never needs a second one.
      const out = await tx(pool, async (c) => {
        await c.query("SELECT pg_advisory_xact_lock(hashtext('admit:' || $1))", [tenantId]);
        const counts = (await one<{ active: number; h: number; d: number }>(
          c,
          `SELECT COUNT(*) FILTER (WHERE status = ANY($2)) AS active,
             COUNT(*) FILTER (WHERE created_at >= $3) AS h, COUNT(*) FILTER (WHERE created_at >= $4) AS d
           FROM calls WHERE tenant_id = $1 AND (status = ANY($2) OR created_at >= $4)`,
          [
            tenantId,
            ACTIVE_CALL_STATUSES,
            new Date(now - 3_600_000).toISOString(),
            new Date(now - 86_400_000).toISOString(),
          ],
        ))!;
        const reason = refuse({ active: counts.active, lastHour: counts.h, lastDay: counts.d });
        if (reason !== undefined) return { ok: false as const, reason };
        let row: CallRow | undefined;
        if ('create' in action) {
          row = await one<CallRow>(
            c,
            `INSERT INTO calls (id, tenant_id, assistant_id, direction, status, from_number, to_number, protocol,
               provider_call_id, metadata, created_at, owner_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             RETURNING *`,
            callInsertArgs(newId('c', 12), { ...action.create, tenantId }),
          );
        } else {
          row = await one<CallRow>(
            c,
            'UPDATE calls SET status = $1, owner_id = COALESCE($2, owner_id) WHERE tenant_id = $3 AND id = $4 RETURNING *',
            [action.activate.status, action.activate.ownerId ?? null, tenantId, action.activate.id],
          );
        }
        return row ? { ok: true as const, row } : { ok: false as const, reason: 'Call not found' };
      });
      return out.ok ? { ok: true, record: await withEvents(out.row) } : out;
    },
    async get(tenantId, id) {
      const r = await byId(tenantId, id);
      return r && withEvents(r);
    },
    async find(id) {
      const r = await one<CallRow>(pool, 'SELECT * FROM calls WHERE id = $1', [id]);
      return r && withEvents(r);
    },
    async update(id, patch) {
      const keys = (Object.keys(PATCH_COLUMNS) as Array<keyof typeof PATCH_COLUMNS>).filter(
        (k) => patch[k] !== undefined,
      );
      if (keys.length === 0) return;
      const values = keys.map((k) => (k === 'structuredOutput' ? JSON.stringify(patch[k]) : patch[k]));
      await run(
        pool,
        `UPDATE calls SET ${keys.map((k, i) => `${PATCH_COLUMNS[k]} = $${i + 1}`).join(', ')} WHERE id = $${keys.length + 1}`,
        [...values, id],
      );
    },
    async appendEvent(id, type, data) {
      await run(pool, 'INSERT INTO call_events (call_id, type, at, data) VALUES ($1, $2, $3, $4)', [
        id,
        type,
        nowIso(),
        JSON.stringify(data),
      ]);
    },
    async list(tenantId, f) {
      const limit = clampLimit(f.limit);
      const where = ['tenant_id = $1'];
      const args: Array<string | number> = [tenantId];
      const add = (sql: string, v: string | number) => {
        args.push(v);
        where.push(`${sql} $${args.length}`);
      };
      const after = decodeCursor(f.cursor);
      if (after !== undefined) add('seq <', after);
      if (f.from) add('created_at >=', f.from);
      if (f.to) add('created_at <=', f.to);
      if (f.direction) add('direction =', f.direction);
      if (f.status) add('status =', f.status);
      if (f.assistantId) add('assistant_id =', f.assistantId);
      args.push(limit + 1);
      const rows = await all<CallRow>(
        pool,
        `SELECT * FROM calls WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT $${args.length}`,
        args,
      );
      const more = rows.length > limit;
      if (more) rows.pop();
      return {
        rows: await Promise.all(rows.map(withEvents)),
        ...(more ? { nextCursor: encodeCursor(rows[rows.length - 1]!.seq) } : {}),
      };
    },
    async countActive(tenantId) {
      return (await one<{ n: number }>(
        pool,
        'SELECT COUNT(*) AS n FROM calls WHERE tenant_id = $1 AND status = ANY($2)',
        [tenantId, ACTIVE_CALL_STATUSES],
      ))!.n;
    },
    async countSince(tenantId, sinceIso) {
      return (await one<{ n: number }>(
        pool,
        'SELECT COUNT(*) AS n FROM calls WHERE tenant_id = $1 AND created_at >= $2',
        [tenantId, sinceIso],
      ))!.n;
    },
  };
}
