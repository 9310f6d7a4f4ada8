import type { Statement } from 'better-sqlite3';
import { clampLimit, decodeCursor, encodeCursor } from '../cursor.js';
import { newId } from '../ids.js';
import {
  ACTIVE_CALL_STATUSES,
  type AdmitAction,
  type AnsweredBy,
  type CallCounts,
  type CallCreate,
  type CallEventType,
  type CallRecord,
  type CallStatus,
  type CallsRepo,
} from '../types.js';
import { type Db, nowIso, parseJson } from './database.js';

export interface CallRow {
  seq: number;
  id: string;
  tenant_id: string;
  assistant_id: string;
  direction: 'inbound' | 'outbound';
  status: CallStatus;
  from_number: string | null;
  to_number: string | null;
  protocol: string | null;
  provider_call_id: string | null;
  metadata: string;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  end_reason: string | null;
  duration_ms: number | null;
  recording_path: string | null;
  summary: string | null;
  structured_output: string | null;
  structured_output_error: string | null;
  owner_id: string | null;
  answered_by: string | null;
  amd_ms: number | null;
}

export interface CallEventRow {
  type: CallEventType;
  at: string;
  data: string;
}

/** Call patch field -> column. Only these columns are ever written by update(). */
export const PATCH_COLUMNS = {
  status: 'status',
  startedAt: 'started_at',
  endedAt: 'ended_at',
  endReason: 'end_reason',
  providerCallId: 'provider_call_id',
  recordingPath: 'recording_path',
  summary: 'summary',
  structuredOutput: 'structured_output',
  structuredOutputError: 'structured_output_error',
  durationMs: 'duration_ms',
  ownerId: 'owner_id',
  answeredBy: 'answered_by',
  amdMs: 'amd_ms',
} as const;

/** A row plus its events (in order) -> the API's call record. Shared by both stores. */
export function toCallRecord(r: CallRow, events: readonly CallEventRow[]): CallRecord {
  const rec: CallRecord = {
    id: r.id,
    tenantId: r.tenant_id,
    assistantId: r.assistant_id,
    direction: r.direction,
    status: r.status,
    metadata: parseJson<Record<string, unknown>>(r.metadata, {}),
    createdAt: r.created_at,
    transcript: [],
    turns: [],
    toolCalls: [],
    dtmf: [],
    incidents: [],
  };
  if (r.from_number !== null) rec.from = r.from_number;
  if (r.to_number !== null) rec.to = r.to_number;
  if (r.protocol !== null) rec.protocol = r.protocol;
  if (r.provider_call_id !== null) rec.providerCallId = r.provider_call_id;
  if (r.started_at !== null) rec.startedAt = r.started_at;
  if (r.ended_at !== null) rec.endedAt = r.ended_at;
  if (r.end_reason !== null) rec.endReason = r.end_reason;
  if (r.duration_ms !== null) rec.durationMs = r.duration_ms;
  if (r.recording_path !== null) rec.recordingPath = r.recording_path;
  if (r.summary !== null) rec.summary = r.summary;
  if (r.structured_output !== null) rec.structuredOutput = parseJson<unknown>(r.structured_output, null);
  if (r.structured_output_error !== null) rec.structuredOutputError = r.structured_output_error;
  if (r.owner_id) rec.ownerId = r.owner_id;
  if (r.answered_by) rec.answeredBy = r.answered_by as AnsweredBy;
  if (r.amd_ms !== null && r.amd_ms !== undefined) rec.amdMs = Number(r.amd_ms);
  for (const e of events) {
    const item = { ...parseJson<Record<string, unknown>>(e.data, {}), at: e.at };
    if (e.type === 'transcript') rec.transcript.push(item);
    else if (e.type === 'turn') rec.turns.push(item);
    else if (e.type === 'tool') rec.toolCalls.push(item);
    else if (e.type === 'dtmf') rec.dtmf.push(item);
    else if (e.type === 'incident') rec.incidents.push(item);
  }
  return rec;
}

/** The insert's arguments, in column order (id … created_at); shared by both stores. */
export function callInsertArgs(id: string, input: CallCreate): unknown[] {
  return [
    id,
    input.tenantId,
    input.assistantId,
    input.direction,
    input.status ?? (input.direction === 'outbound' ? 'queued' : 'ringing'),
    input.from ?? null,
    input.to ?? null,
    input.protocol ?? null,
    input.providerCallId ?? null,
    JSON.stringify(input.metadata ?? {}),
    nowIso(),
    input.ownerId ?? null,
  ];
}

export function sqliteCalls(db: Db): CallsRepo {
  const insert = db.prepare(
    `INSERT INTO calls (id, tenant_id, assistant_id, direction, status, from_number, to_number, protocol,
       provider_call_id, metadata, created_at, owner_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const byId = db.prepare<[string, string], CallRow>(
    'SELECT rowid AS seq, * FROM calls WHERE tenant_id = ? AND id = ?',
  );
  const anyById = db.prepare<[string], CallRow>('SELECT rowid AS seq, * FROM calls WHERE id = ?');
  const events = db.prepare<[string], CallEventRow>(
    'SELECT type, at, data FROM call_events WHERE call_id = ? ORDER BY seq',
  );
  const addEvent = db.prepare('INSERT INTO call_events (call_id, type, at, data) VALUES (?, ?, ?, ?)');
  const active = db.prepare<[string], { n: number }>(
    `SELECT COUNT(*) AS n FROM calls WHERE tenant_id = ? AND status IN (${ACTIVE_CALL_STATUSES.map((s) => `'${s}'`).join(',')})`,
  );
  const since = db.prepare<[string, string], { n: number }>(
    'SELECT COUNT(*) AS n FROM calls WHERE tenant_id = ? AND created_at >= ?',
  );
  const lastHourDay = db.prepare<[string, string, string], { h: number; d: number }>(
    `SELECT COALESCE(SUM(created_at >= ?), 0) AS h, COUNT(*) AS d FROM calls WHERE tenant_id = ? AND created_at >= ?`,
  );
  const activate = db.prepare(
    'UPDATE calls SET status = ?, owner_id = COALESCE(?, owner_id) WHERE tenant_id = ? AND id = ?',
  );
  // IMMEDIATE: the write lock is taken before counting, so engine processes sharing the file (WAL) admit one at a
  // time and each sees the calls the others admitted.
  const admitTx = db.transaction(
    (tenantId: string, action: AdmitAction, refuse: (c: CallCounts) => string | undefined, now: number) => {
      const { h, d } = lastHourDay.get(
        new Date(now - 3_600_000).toISOString(),
        tenantId,
        new Date(now - 86_400_000).toISOString(),
      )!;
      const reason = refuse({ active: active.get(tenantId)!.n, lastHour: h, lastDay: d });
      if (reason !== undefined) return { ok: false as const, reason };
      let id: string;
      if ('create' in action) {
        id = newId('c', 12);
        insert.run(...callInsertArgs(id, { ...action.create, tenantId }));
      } else {
        id = action.activate.id;
        activate.run(action.activate.status, action.activate.ownerId ?? null, tenantId, id);
      }
      const r = byId.get(tenantId, id);
      return r ? { ok: true as const, record: toRecord(r) } : { ok: false as const, reason: 'Call not found' };
    },
  );
  const updates = new Map<string, Statement<unknown[]>>();

  const toRecord = (r: CallRow) => toCallRecord(r, events.all(r.id));

  return {
    async create(input) {
      const id = newId('c', 12);
      insert.run(...callInsertArgs(id, input));
      return toRecord(byId.get(input.tenantId, id)!);
    },
    async admit(tenantId, action, refuse, now = Date.now()) {
      return admitTx.immediate(tenantId, action, refuse, now);
    },
    async get(tenantId, id) {
      const r = byId.get(tenantId, id);
      return r && toRecord(r);
    },
    async find(id) {
      const r = anyById.get(id);
      return r && toRecord(r);
    },
    async update(id, patch) {
      const keys = (Object.keys(PATCH_COLUMNS) as Array<keyof typeof PATCH_COLUMNS>).filter(
        (k) => patch[k] !== undefined,
      );
      if (keys.length === 0) return;
      // One prepared statement per distinct set of patched fields, cached: a call patches the same few shapes.
      const sig = keys.join(',');
      let stmt = updates.get(sig);
      if (!stmt) {
        stmt = db.prepare<unknown[]>(
          `UPDATE calls SET ${keys.map((k) => `${PATCH_COLUMNS[k]} = ?`).join(', ')} WHERE id = ?`,
        );
        updates.set(sig, stmt);
      }
      const values = keys.map((k) => (k === 'structuredOutput' ? JSON.stringify(patch[k]) : patch[k]));
      stmt.run(...values, id);
    },
    async appendEvent(id, type, data) {
      addEvent.run(id, type, nowIso(), JSON.stringify(data));
    },
    async list(tenantId, f) {
      const limit = clampLimit(f.limit);
      const where = ['tenant_id = ?'];
      const args: Array<string | number> = [tenantId];
      const after = decodeCursor(f.cursor);
      if (after !== undefined) {
        where.push('rowid < ?');
        args.push(after);
      }
      if (f.from) {
        where.push('created_at >= ?');
        args.push(f.from);
      }
      if (f.to) {
        where.push('created_at <= ?');
        args.push(f.to);
      }
      if (f.direction) {
        where.push('direction = ?');
        args.push(f.direction);
      }
      if (f.status) {
        where.push('status = ?');
        args.push(f.status);
      }
      if (f.assistantId) {
        where.push('assistant_id = ?');
        args.push(f.assistantId);
      }
      const rows = db
        .prepare<Array<string | number>, CallRow>(
          `SELECT rowid AS seq, * FROM calls WHERE ${where.join(' AND ')} ORDER BY rowid DESC LIMIT ?`,
        )
        .all(...args, limit + 1);
      const more = rows.length > limit;
      if (more) rows.pop();
      return { rows: rows.map(toRecord), ...(more ? { nextCursor: encodeCursor(rows[rows.length - 1]!.seq) } : {}) };
    },
    async countActive(tenantId) {
      return active.get(tenantId)!.n;
    },
    async countSince(tenantId, sinceIso) {
      return since.get(tenantId, sinceIso)!.n;
    },
  };
}
