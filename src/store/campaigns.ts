import type {
  Campaign,
  CampaignRow,
  CampaignRowStatus,
  CampaignSettings,
  CampaignStatus,
  CampaignsRepo,
  DncEntry,
} from './campaign-types.js';
import { CAMPAIGN_ROW_STATUSES } from './campaign-types.js';
import { newId } from './ids.js';

/**
 * The campaigns repository over either store: the SQL here is the common subset of SQLite and Postgres, with `?`
 * placeholders (the Postgres adapter numbers them). Rows are inserted in chunks, before the campaign itself, so a
 * runner never sees a campaign whose list is still being written.
 */
export interface SqlExec {
  all<R>(sql: string, args?: unknown[]): Promise<R[]>;
  run(sql: string, args?: unknown[]): Promise<number>;
}

interface CampaignDbRow {
  id: string;
  tenant_id: string;
  assistant_id: string;
  name: string;
  status: CampaignStatus;
  settings: string;
  created_at: string;
  updated_at: string;
}

interface RowDbRow {
  id: string;
  campaign_id: string;
  tenant_id: string;
  seq: number | string;
  phone: string;
  timezone: string | null;
  metadata: string;
  status: CampaignRowStatus;
  attempts: number | string;
  next_attempt_at: number | string;
  result: string | null;
  call_id: string | null;
  answered_by: string | null;
  updated_at: string;
}

const toCampaign = (r: CampaignDbRow): Campaign => ({
  id: r.id,
  tenantId: r.tenant_id,
  assistantId: r.assistant_id,
  name: r.name,
  status: r.status,
  settings: JSON.parse(r.settings) as CampaignSettings,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toRow = (r: RowDbRow): CampaignRow => ({
  id: r.id,
  campaignId: r.campaign_id,
  tenantId: r.tenant_id,
  seq: Number(r.seq),
  phone: r.phone,
  ...(r.timezone ? { timezone: r.timezone } : {}),
  metadata: JSON.parse(r.metadata) as Record<string, string>,
  status: r.status,
  attempts: Number(r.attempts),
  nextAttemptAt: Number(r.next_attempt_at),
  ...(r.result ? { result: r.result } : {}),
  ...(r.call_id ? { callId: r.call_id } : {}),
  ...(r.answered_by ? { answeredBy: r.answered_by } : {}),
  updatedAt: r.updated_at,
});

const ROW_COLUMNS = {
  status: 'status',
  attempts: 'attempts',
  nextAttemptAt: 'next_attempt_at',
  result: 'result',
  callId: 'call_id',
  answeredBy: 'answered_by',
} as const;

const CHUNK = 200;

export function campaignsRepo(db: SqlExec): CampaignsRepo {
  const now = () => new Date().toISOString();
  return {
    async create(tenantId, input, rows) {
      const id = newId('cmp', 12);
      const at = now();
      for (let i = 0; i < rows.length; i += CHUNK) {
        const part = rows.slice(i, i + CHUNK);
        const args: unknown[] = [];
        part.forEach((r, k) => {
          args.push(newId('cr', 12), id, tenantId, i + k + 1, r.phone, r.timezone ?? null, JSON.stringify(r.metadata));
          args.push('pending', 0, 0, at);
        });
        await db.run(
          `INSERT INTO campaign_rows (id, campaign_id, tenant_id, seq, phone, timezone, metadata, status, attempts,
           next_attempt_at, updated_at) VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
          args,
        );
      }
      const c: Campaign = { id, tenantId, ...input, status: 'running', createdAt: at, updatedAt: at };
      await db.run(
        `INSERT INTO campaigns (id, tenant_id, assistant_id, name, status, settings, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [id, tenantId, c.assistantId, c.name, c.status, JSON.stringify(c.settings), at, at],
      );
      return c;
    },
    async get(tenantId, id) {
      const [r] = await db.all<CampaignDbRow>('SELECT * FROM campaigns WHERE tenant_id = ? AND id = ?', [tenantId, id]);
      return r && toCampaign(r);
    },
    async list(tenantId) {
      const rs = await db.all<CampaignDbRow>(
        'SELECT * FROM campaigns WHERE tenant_id = ? ORDER BY created_at DESC, id',
        [tenantId],
      );
      return rs.map(toCampaign);
    },
    async setStatus(id, status) {
      await db.run('UPDATE campaigns SET status = ?, updated_at = ? WHERE id = ?', [status, now(), id]);
    },
    async running() {
      return (await db.all<CampaignDbRow>("SELECT * FROM campaigns WHERE status = 'running' ORDER BY created_at")).map(
        toCampaign,
      );
    },
    async counts(campaignId) {
      const out = Object.fromEntries(CAMPAIGN_ROW_STATUSES.map((s) => [s, 0])) as Record<CampaignRowStatus, number>;
      const rs = await db.all<{ status: CampaignRowStatus; n: number | string }>(
        'SELECT status, COUNT(*) AS n FROM campaign_rows WHERE campaign_id = ? GROUP BY status',
        [campaignId],
      );
      for (const r of rs) out[r.status] = Number(r.n);
      return out;
    },
    async rows(tenantId, campaignId, opts = {}) {
      const limit = Math.max(1, Math.min(opts.limit ?? 100, 1000));
      const status = opts.status ? ' AND status = ?' : '';
      const rs = await db.all<RowDbRow>(
        `SELECT * FROM campaign_rows WHERE tenant_id = ? AND campaign_id = ? AND seq > ?${status} ORDER BY seq LIMIT ?`,
        [tenantId, campaignId, opts.after ?? 0, ...(opts.status ? [opts.status] : []), limit],
      );
      return rs.map(toRow);
    },
    async due(campaignId, at, limit) {
      const rs = await db.all<RowDbRow>(
        `SELECT * FROM campaign_rows WHERE campaign_id = ? AND status = 'pending' AND next_attempt_at <= ?
         ORDER BY next_attempt_at, seq LIMIT ?`,
        [campaignId, at, limit],
      );
      return rs.map(toRow);
    },
    async dialing(campaignId) {
      const rs = await db.all<RowDbRow>(
        "SELECT * FROM campaign_rows WHERE campaign_id = ? AND status = 'dialing' ORDER BY seq",
        [campaignId],
      );
      return rs.map(toRow);
    },
    async claim(rowId, leaseUntil) {
      const n = await db.run(
        `UPDATE campaign_rows SET status = 'dialing', attempts = attempts + 1, next_attempt_at = ?, updated_at = ?
         WHERE id = ? AND status = 'pending'`,
        [leaseUntil, now(), rowId],
      );
      return n === 1;
    },
    async updateRow(rowId, patch) {
      const keys = (Object.keys(ROW_COLUMNS) as (keyof typeof ROW_COLUMNS)[]).filter((k) => patch[k] !== undefined);
      if (!keys.length) return;
      await db.run(
        `UPDATE campaign_rows SET ${keys.map((k) => `${ROW_COLUMNS[k]} = ?`).join(', ')}, updated_at = ? WHERE id = ?`,
        [...keys.map((k) => patch[k]), now(), rowId],
      );
    },
    async cancelPending(campaignId) {
      return db.run(
        "UPDATE campaign_rows SET status = 'cancelled', updated_at = ? WHERE campaign_id = ? AND status = 'pending'",
        [now(), campaignId],
      );
    },
    async addDnc(tenantId, numbers, reason) {
      let added = 0;
      for (const n of new Set(numbers)) {
        added += await db.run(
          'INSERT INTO dnc (tenant_id, number, reason, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
          [tenantId, n, reason, now()],
        );
      }
      return added;
    },
    async removeDnc(tenantId, number) {
      return (await db.run('DELETE FROM dnc WHERE tenant_id = ? AND number = ?', [tenantId, number])) > 0;
    },
    async isDnc(tenantId, number) {
      return (await db.all('SELECT 1 AS x FROM dnc WHERE tenant_id = ? AND number = ?', [tenantId, number])).length > 0;
    },
    async listDnc(tenantId, opts = {}) {
      const rs = await db.all<{ number: string; reason: string; created_at: string }>(
        'SELECT number, reason, created_at FROM dnc WHERE tenant_id = ? AND number > ? ORDER BY number LIMIT ?',
        [tenantId, opts.after ?? '', Math.max(1, Math.min(opts.limit ?? 100, 1000))],
      );
      return rs.map((r): DncEntry => ({ number: r.number, reason: r.reason, createdAt: r.created_at }));
    },
  };
}
