/**
 * Campaigns (issue 18): a list of numbers dialled by an assistant within calling windows, with retries, do-not-call
 * and opt-out. Types of the campaigns repository (src/store/campaigns.ts, both stores); the dialling logic lives in
 * src/campaigns.
 */
export type CampaignStatus = 'running' | 'paused' | 'cancelled' | 'completed';
export const CAMPAIGN_ROW_STATUSES = [
  'pending',
  'dialing',
  'completed',
  'failed',
  'dnc',
  'opted_out',
  'cancelled',
] as const;
export type CampaignRowStatus = (typeof CAMPAIGN_ROW_STATUSES)[number];

/** Local calling hours in the campaign's (or the row's) IANA time zone; `days` are ISO weekdays 1 (Mon) .. 7. */
export interface CampaignWindow {
  start: string;
  end: string;
  days?: number[];
}

export interface CampaignSettings {
  /** IANA zone of the calling window, unless a row names its own. */
  timezone: string;
  window?: CampaignWindow;
  /** Dial attempts per row (busy / no-answer / failed are tried again up to this many in all). */
  maxAttempts: number;
  /** Wait before the first retry, s; doubles per further retry. */
  retryBackoffSec: number;
  /** Calls of this campaign at once (the account's concurrent limit still applies). */
  maxConcurrent: number;
  channel?: string;
  from?: string;
  /** A key the callee presses to opt out (added to the tenant's do-not-call list). */
  optOutDigit?: string;
}

export interface Campaign {
  id: string;
  tenantId: string;
  assistantId: string;
  name: string;
  status: CampaignStatus;
  settings: CampaignSettings;
  createdAt: string;
  updatedAt: string;
}

export interface CampaignRow {
  id: string;
  campaignId: string;
  tenantId: string;
  /** Position in the uploaded list (1-based). */
  seq: number;
  phone: string;
  timezone?: string;
  /** Prompt variables ({{name}} in the first message and the voicemail message). */
  metadata: Record<string, string>;
  status: CampaignRowStatus;
  attempts: number;
  /** Epoch ms: not before this (retry backoff; the dial lease while dialing). */
  nextAttemptAt: number;
  /** The last attempt's outcome: completed, busy, no-answer, failed, canceled, voicemail … */
  result?: string;
  callId?: string;
  answeredBy?: string;
  updatedAt: string;
}

export interface CampaignRowInput {
  phone: string;
  timezone?: string;
  metadata: Record<string, string>;
}

export interface CampaignRowPatch {
  status?: CampaignRowStatus;
  attempts?: number;
  nextAttemptAt?: number;
  result?: string;
  callId?: string;
  answeredBy?: string;
}

export interface DncEntry {
  number: string;
  reason: string;
  createdAt: string;
}

export interface CampaignsRepo {
  /** The campaign (status running) and its rows, numbered in order. */
  create(
    tenantId: string,
    input: { assistantId: string; name: string; settings: CampaignSettings },
    rows: CampaignRowInput[],
  ): Promise<Campaign>;
  get(tenantId: string, id: string): Promise<Campaign | undefined>;
  list(tenantId: string): Promise<Campaign[]>;
  setStatus(id: string, status: CampaignStatus): Promise<void>;
  /** Every running campaign, all tenants (the runner's work). */
  running(): Promise<Campaign[]>;
  /** Rows per status. */
  counts(campaignId: string): Promise<Record<CampaignRowStatus, number>>;
  rows(
    tenantId: string,
    campaignId: string,
    opts?: { status?: CampaignRowStatus; after?: number; limit?: number },
  ): Promise<CampaignRow[]>;
  /** Pending rows due at `now`, oldest due first. */
  due(campaignId: string, now: number, limit: number): Promise<CampaignRow[]>;
  /** Rows being dialled (their call not finished). */
  dialing(campaignId: string): Promise<CampaignRow[]>;
  /** pending -> dialing, leased until `leaseUntil`; false when another process took it first. */
  claim(rowId: string, leaseUntil: number): Promise<boolean>;
  updateRow(rowId: string, patch: CampaignRowPatch): Promise<void>;
  /** Pending rows -> cancelled; returns how many. */
  cancelPending(campaignId: string): Promise<number>;
  addDnc(tenantId: string, numbers: string[], reason: string): Promise<number>;
  removeDnc(tenantId: string, number: string): Promise<boolean>;
  isDnc(tenantId: string, number: string): Promise<boolean>;
  /** In number order, after `after`. */
  listDnc(tenantId: string, opts?: { after?: string; limit?: number }): Promise<DncEntry[]>;
}
