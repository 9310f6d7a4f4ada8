import { clampLimit, decodeCursor, encodeCursor } from '../cursor.js';
import { newId } from '../ids.js';
import { type CallEventRow, type CallRow, callInsertArgs, PATCH_COLUMNS, toCallRecord } from '../sqlite/calls.js';
import { nowIso } from '../sqlite/database.js';
import { ACTIVE_CALL_STATUSES, type CallRecord, type CallsRepo } from '../types.js';
import { all, one, type Pool, run } from './database.js';

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
           provider_call_id, metadata, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        callInsertArgs(id, input),
      );
      return withEvents((await byId(input.tenantId, id))!);
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
