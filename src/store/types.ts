import type { Assistant, AssistantConfig } from '../assistant.js';
import type { CampaignsRepo } from './campaign-types.js';
import type { WebhooksRepo } from './webhook-types.js';

export type * from './campaign-types.js';

/**
 * Repository contracts for all durable state (DESIGN.md section 9). Every method returns a Promise so that a network
 * store (Postgres shared by many engine processes) can implement the same interface; nothing here mentions SQLite.
 * Timestamps are ISO 8601 strings (UTC); money is integer cents.
 */

/** Which data a credential reaches: the live account, or its test twin (test mode, like Stripe's). */
export type Environment = 'production' | 'test';

export interface Tenant {
  id: string;
  email: string;
  name?: string;
  creditCents: number;
  createdAt: string;
  environment: Environment;
  /** For a test tenant: the live tenant it is the test twin of. */
  liveId?: string;
}

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  label: string;
  /** First characters of the key, shown so users can tell keys apart; the key itself is never stored. */
  prefix: string;
  createdAt: string;
  revokedAt?: string;
  lastUsedAt?: string;
}

export interface KeyMatch {
  tenant: Tenant;
  keyId: string;
}

export interface TenantsRepo {
  create(input: { email: string; name?: string; creditCents?: number }): Promise<Tenant>;
  get(id: string): Promise<Tenant | undefined>;
  getByEmail(email: string): Promise<Tenant | undefined>;
  /** Live tenants only (test twins are part of their live tenant). */
  list(): Promise<Tenant[]>;
  count(): Promise<number>;
  /**
   * The test twin of a live tenant, created on first use (idempotent, also across engines): its own tenant id, so
   * test data is isolated from live data by the tenant scoping every repository already applies.
   */
  testTwin(liveId: string): Promise<Tenant>;
}

export interface ApiKeysRepo {
  /** Creates a key; `secret` is returned once and only its hash is kept. */
  create(tenantId: string, input?: { label?: string; secret?: string }): Promise<{ key: ApiKeyRecord; secret: string }>;
  /** Finds the live (not revoked) key with this secret; constant-time comparison of the hashes. */
  verify(secret: string): Promise<KeyMatch | undefined>;
  list(tenantId: string): Promise<ApiKeyRecord[]>;
  revoke(tenantId: string, keyId: string): Promise<boolean>;
}

export interface AssistantsRepo {
  create(tenantId: string, config: AssistantConfig): Promise<Assistant>;
  get(tenantId: string, id: string): Promise<Assistant | undefined>;
  /** By `ast_…` key, scoped to the tenant (API routes). */
  getByKey(tenantId: string, assistantApiKey: string): Promise<Assistant | undefined>;
  /**
   * By `ast_…` key across tenants: only for the media gateway, which has no tenant yet. Never by `ag_…` id: the id
   * travels in webhooks and logs and is not a credential. Keys are stored as SHA-256 (lookup) plus sealed (display).
   */
  findByKey(assistantApiKey: string): Promise<Assistant | undefined>;
  /** By `ag_…` id across tenants: engine-internal work that starts from an id (greeting warm-up), never a credential. */
  findById(id: string): Promise<Assistant | undefined>;
  list(
    tenantId: string,
    page?: { cursor?: string; limit?: number },
  ): Promise<{ rows: Assistant[]; nextCursor?: string }>;
  /** Replaces the config and bumps `version`. Returns undefined when the assistant is not the tenant's. */
  update(tenantId: string, id: string, config: AssistantConfig): Promise<Assistant | undefined>;
  delete(tenantId: string, id: string): Promise<boolean>;
  /** Cheap poll for live calls: current version, undefined when deleted. */
  getVersion(id: string): Promise<number | undefined>;
}

export type CallStatus =
  | 'queued'
  | 'ringing'
  | 'in-progress'
  | 'completed'
  | 'failed'
  | 'busy'
  | 'no-answer'
  | 'canceled';
export const CALL_STATUSES: readonly CallStatus[] = [
  'queued',
  'ringing',
  'in-progress',
  'completed',
  'failed',
  'busy',
  'no-answer',
  'canceled',
];
/** Statuses that hold a line (count against the concurrent-call limit). */
export const ACTIVE_CALL_STATUSES: readonly CallStatus[] = ['ringing', 'in-progress'];

export type CallDirection = 'inbound' | 'outbound';
export type CallEventType = 'transcript' | 'turn' | 'tool' | 'dtmf' | 'incident' | 'state';

export interface CallEvent {
  type: CallEventType;
  at: string;
  data: Record<string, unknown>;
}

export interface CallRecord {
  id: string;
  tenantId: string;
  assistantId: string;
  direction: CallDirection;
  status: CallStatus;
  from?: string;
  to?: string;
  protocol?: string;
  providerCallId?: string;
  metadata: Record<string, unknown>;
  createdAt: string;
  startedAt?: string;
  endedAt?: string;
  endReason?: string;
  durationMs?: number;
  recordingPath?: string;
  summary?: string;
  structuredOutput?: unknown;
  structuredOutputError?: string;
  /** The engine process carrying the call while it is live (EnginesRepo). */
  ownerId?: string;
  /** Voicemail detection (assistant settings.voicemail): the verdict and its decision time, ms. */
  answeredBy?: AnsweredBy;
  amdMs?: number;
  /** Derived from the call's events, in order. */
  transcript: Array<Record<string, unknown> & { at: string }>;
  turns: Array<Record<string, unknown> & { at: string }>;
  toolCalls: Array<Record<string, unknown> & { at: string }>;
  dtmf: Array<Record<string, unknown> & { at: string }>;
  incidents: Array<Record<string, unknown> & { at: string }>;
}

export interface CallCreate {
  tenantId: string;
  assistantId: string;
  direction: CallDirection;
  status?: CallStatus;
  from?: string;
  to?: string;
  protocol?: string;
  providerCallId?: string;
  metadata?: Record<string, unknown>;
  /** The engine process carrying the call (EnginesRepo), when it is live. */
  ownerId?: string;
}

export interface CallPatch {
  ownerId?: string;
  status?: CallStatus;
  startedAt?: string;
  endedAt?: string;
  endReason?: string;
  providerCallId?: string;
  recordingPath?: string;
  summary?: string;
  structuredOutput?: unknown;
  structuredOutputError?: string;
  durationMs?: number;
  answeredBy?: AnsweredBy;
  amdMs?: number;
}

/** Who answered an outbound call (voicemail detection). */
export type AnsweredBy = 'human' | 'machine' | 'unknown';

export interface CallFilter {
  /** ISO time range on createdAt, inclusive. */
  from?: string;
  to?: string;
  direction?: CallDirection;
  status?: CallStatus;
  assistantId?: string;
  cursor?: string;
  limit?: number;
}

/** A tenant's call counts, taken under the tenant's admission lock (see CallsRepo.admit). */
export interface CallCounts {
  /** Calls holding a line (ACTIVE_CALL_STATUSES). */
  active: number;
  /** Calls created in the last hour / day. */
  lastHour: number;
  lastDay: number;
}

/** What admit() does once the limits allow it: create a call, or move a queued call to a line-holding status. */
export type AdmitAction = { create: CallCreate } | { activate: { id: string; status: CallStatus; ownerId?: string } };

export interface CallsRepo {
  create(input: CallCreate): Promise<CallRecord>;
  /**
   * Call limits enforced atomically across every engine on the store: under a per-tenant lock, counts the tenant's
   * calls, asks `refuse` (synchronous; a reason string refuses), and only then performs `action`. Two engines
   * admitting at the same moment see each other's calls.
   */
  admit(
    tenantId: string,
    action: AdmitAction,
    refuse: (counts: CallCounts) => string | undefined,
    now?: number,
  ): Promise<{ ok: true; record: CallRecord } | { ok: false; reason: string }>;
  get(tenantId: string, id: string): Promise<CallRecord | undefined>;
  /** By id across tenants: only for carrier callbacks (signed by the carrier), which carry no tenant. */
  find(id: string): Promise<CallRecord | undefined>;
  update(id: string, patch: CallPatch): Promise<void>;
  appendEvent(id: string, type: CallEventType, data: Record<string, unknown>): Promise<void>;
  list(tenantId: string, filter: CallFilter): Promise<{ rows: CallRecord[]; nextCursor?: string }>;
  countActive(tenantId: string): Promise<number>;
  /** Calls created since `sinceIso` (per-period limits). */
  countSince(tenantId: string, sinceIso: string): Promise<number>;
}

export interface NumberRoute {
  number: string;
  tenantId: string;
  assistantId: string;
  createdAt: string;
}

export interface NumberRoutingRepo {
  /** A number routes to one assistant across all tenants; CONFLICT-like false when another tenant holds it. */
  set(tenantId: string, number: string, assistantId: string): Promise<NumberRoute | undefined>;
  list(tenantId: string): Promise<NumberRoute[]>;
  delete(tenantId: string, number: string): Promise<boolean>;
  resolve(number: string): Promise<NumberRoute | undefined>;
}

export interface CallLimits {
  maxConcurrent?: number;
  maxPerHour?: number;
  maxPerDay?: number;
}

export interface PluginInstance {
  tenantId: string;
  pluginId: string;
  status: 'active' | 'inactive';
  config: Record<string, unknown>;
  activatedAt?: string;
  updatedAt: string;
}

export interface AccountRepo {
  getAllowedIps(tenantId: string): Promise<string[]>;
  setAllowedIps(tenantId: string, entries: string[]): Promise<void>;
  getCallLimits(tenantId: string): Promise<CallLimits>;
  setCallLimits(tenantId: string, limits: CallLimits): Promise<void>;
  listPlugins(tenantId: string): Promise<PluginInstance[]>;
  getPlugin(tenantId: string, pluginId: string): Promise<PluginInstance | undefined>;
  /** Debits the price and activates the plugin in one transaction; 'insufficient' leaves everything unchanged. */
  purchasePlugin(tenantId: string, pluginId: string, priceCents: number): Promise<'ok' | 'insufficient'>;
  configurePlugin(
    tenantId: string,
    pluginId: string,
    config: Record<string, unknown>,
  ): Promise<PluginInstance | undefined>;
  getCredit(tenantId: string): Promise<number>;
  /** Adds credit and records a recharge analytics row. */
  addCredit(tenantId: string, cents: number, note?: string): Promise<number>;
}

export * from './webhook-types.js';

export type AnalyticsKind = 'rag' | 'tool' | 'sms' | 'recharge' | 'precall';
export interface AnalyticsRow {
  id: string;
  tenantId: string;
  kind: AnalyticsKind;
  at: string;
  data: Record<string, unknown>;
}

export interface AnalyticsRepo {
  record(tenantId: string, kind: AnalyticsKind, data: Record<string, unknown>, at?: string): Promise<void>;
  list(
    tenantId: string,
    kind: AnalyticsKind,
    filter: { from?: string; to?: string; cursor?: string; limit?: number },
  ): Promise<{ rows: AnalyticsRow[]; nextCursor?: string }>;
}

export interface OutboundJob {
  id: string;
  tenantId: string;
  callId: string;
  assistantId: string;
  to: string;
  from?: string;
  channel: string;
  metadata: Record<string, unknown>;
  status: 'queued' | 'dialing' | 'done' | 'failed';
  attempts: number;
  error?: string;
  createdAt: string;
}

export interface OutboundRepo {
  enqueue(input: {
    tenantId: string;
    callId: string;
    assistantId: string;
    to: string;
    from?: string;
    channel?: string;
    metadata?: Record<string, unknown>;
  }): Promise<OutboundJob>;
  /** Leases the oldest due job (status -> dialing until `now + leaseMs`). */
  claimNext(now: number, leaseMs: number): Promise<OutboundJob | undefined>;
  finish(id: string, status: 'done' | 'failed', error?: string): Promise<void>;
  /** Puts a job back (e.g. call limit reached) to try again at `at` (epoch ms). */
  retryAt(id: string, at: number, error?: string): Promise<void>;
  /** Puts a claimed job back for `at` without counting the claim as an attempt (it never dialled: no line free). */
  requeue(id: string, at: number, error?: string): Promise<void>;
  get(id: string): Promise<OutboundJob | undefined>;
  /**
   * Idempotency-Key support for outbound requests: the first claim of (tenant, key) within `ttlMs` wins
   * (`{ok: true}`); later ones get the call it produced (`callId`), or no callId while the first is still in flight.
   */
  claimIdempotencyKey(
    tenantId: string,
    key: string,
    ttlMs: number,
  ): Promise<{ ok: true } | { ok: false; callId?: string }>;
  bindIdempotencyKey(tenantId: string, key: string, callId: string): Promise<void>;
  /** Forget a claim whose request failed, so a retry can go through. */
  releaseIdempotencyKey(tenantId: string, key: string): Promise<void>;
  /** Jobs queued or being dialled (the queue depth, for metrics). */
  countQueued(): Promise<number>;
}

export type MessageChannel = 'whatsapp' | 'sms';

/** One WhatsApp or SMS message of a conversation with a contact (the agent's per-contact history). */
export interface MessageRecord {
  id: string;
  tenantId: string;
  channel: MessageChannel;
  /** The other party, E.164. */
  contact: string;
  direction: 'inbound' | 'outbound';
  /** The assistant that sent it or is to answer it. */
  assistantId?: string;
  /** The text (a template is stored as its name and parameters, readable for the model). */
  body: string;
  /** The carrier's id (WhatsApp wamid…, Twilio SM…); unique per tenant and channel. */
  providerMessageId?: string;
  status: string;
  createdAt: string;
}

export type MessageCreate = Omit<MessageRecord, 'id' | 'createdAt'> & { createdAt?: string };

export interface MessagesRepo {
  /**
   * Records a message. When its providerMessageId is already recorded for the tenant and channel, records nothing
   * and answers undefined: a webhook the provider retried is handled once, across every engine on the store.
   */
  add(input: MessageCreate): Promise<MessageRecord | undefined>;
  /** The contact's last `limit` messages (default 20), oldest first. */
  history(tenantId: string, channel: MessageChannel, contact: string, limit?: number): Promise<MessageRecord[]>;
  /** Delivery receipts: sets the status of the message with this provider id; undefined when it is not ours. */
  setStatus(
    tenantId: string,
    channel: MessageChannel,
    providerMessageId: string,
    status: string,
  ): Promise<MessageRecord | undefined>;
  /** The assistant that answers this contact's replies (the latest send that named one wins). */
  bindContact(tenantId: string, channel: MessageChannel, contact: string, assistantId: string): Promise<void>;
  contactAssistant(tenantId: string, channel: MessageChannel, contact: string): Promise<string | undefined>;
}

/**
 * Engine processes sharing the store (DESIGN.md 9): each registers, heartbeats, and owns the live calls it carries
 * (`calls.owner_id`). When an engine stops heartbeating, any other engine closes its calls.
 */
export interface EnginesRepo {
  register(id: string, info: { host: string; pid: number }, now?: number): Promise<void>;
  heartbeat(id: string, now?: number): Promise<void>;
  unregister(id: string): Promise<void>;
  /**
   * Closes (status failed, `endReason`) the line-holding calls whose owner has not heartbeated within `timeoutMs`,
   * and forgets those engines. Each call is closed by exactly one engine (the rows are claimed); returns them.
   */
  reapDead(now: number, timeoutMs: number, endReason: string): Promise<CallRecord[]>;
}

/**
 * Shared request counters for rate limits across engines: a fixed window per key. `hit` counts one request and
 * returns the counts of the current and the previous window (for a sliding estimate).
 */
export interface RateCountersRepo {
  hit(key: string, windowMs: number, now: number): Promise<{ current: number; previous: number }>;
}

/** A control message for one live call, delivered to the engine that owns it (hangup, transfer, config change). */
export interface ControlMessage {
  /** Engine id the message is for. */
  to: string;
  callId: string;
  op: 'hangup' | 'transfer' | 'config';
  reason?: string;
  target?: string;
  mode?: 'cold' | 'warm';
}

/** Delivery of control messages between engines: Postgres LISTEN/NOTIFY, or in-process for the embedded store. */
export interface ControlChannel {
  publish(msg: ControlMessage): Promise<void>;
  /** Handler for messages addressed to `engineId`; returns the unsubscribe. */
  subscribe(engineId: string, handler: (msg: ControlMessage) => void): Promise<() => Promise<void>>;
}

export interface Store {
  tenants: TenantsRepo;
  apiKeys: ApiKeysRepo;
  assistants: AssistantsRepo;
  calls: CallsRepo;
  numberRouting: NumberRoutingRepo;
  account: AccountRepo;
  webhooks: WebhooksRepo;
  analytics: AnalyticsRepo;
  outbound: OutboundRepo;
  campaigns: CampaignsRepo;
  messages: MessagesRepo;
  engines: EnginesRepo;
  rateCounters: RateCountersRepo;
  control: ControlChannel;
  /** True when several engine processes can share this store (Postgres). */
  readonly shared: boolean;
  /** Cheap liveness probe for /health. */
  ping(): Promise<boolean>;
  /** Idempotent; resolves when connections are closed (the SQLite file is closed before it returns). */
  close(): Promise<void>;
}
