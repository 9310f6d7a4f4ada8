/**
 * The webhook outbox's repository contract (one of the store's repositories, src/store/types.ts re-exports it):
 * endpoints, deliveries and their attempts, as every store implementation (SQLite, Postgres) provides them.
 */
export const WEBHOOK_EVENT_TYPES = [
  'call.started',
  'call.ended',
  'call.failed',
  'whatsapp.message',
  'campaign.row',
  'campaign.completed',
  'campaign.paused',
  'campaign.resumed',
  'campaign.cancelled',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export interface WebhookEndpoint {
  id: string;
  tenantId: string;
  url: string;
  events: WebhookEventType[];
  /** Signing secret (whsec_…). */
  secret: string;
  description?: string;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface WebhookDelivery {
  id: string;
  tenantId: string;
  endpointId: string;
  /** Idempotency id: the same for every attempt of this event to this endpoint. */
  eventId: string;
  type: WebhookEventType;
  payload: Record<string, unknown>;
  status: 'pending' | 'delivered' | 'dead';
  attempts: number;
  /** Epoch ms of the next attempt. */
  nextAttemptAt: number;
  createdAt: string;
  deliveredAt?: string;
  lastError?: string;
}

export interface WebhookAttempt {
  id: number;
  deliveryId: string;
  endpointId: string;
  eventId: string;
  type: string;
  attempt: number;
  at: string;
  ok: boolean;
  statusCode?: number;
  error?: string;
  durationMs: number;
}

export interface WebhooksRepo {
  createEndpoint(
    tenantId: string,
    input: { url: string; events: WebhookEventType[]; secret?: string; description?: string; enabled?: boolean },
  ): Promise<WebhookEndpoint>;
  listEndpoints(tenantId: string): Promise<WebhookEndpoint[]>;
  getEndpoint(tenantId: string, id: string): Promise<WebhookEndpoint | undefined>;
  updateEndpoint(
    tenantId: string,
    id: string,
    patch: { url?: string; events?: WebhookEventType[]; description?: string; enabled?: boolean },
  ): Promise<WebhookEndpoint | undefined>;
  deleteEndpoint(tenantId: string, id: string): Promise<boolean>;
  /** Writes one pending delivery per enabled endpoint subscribed to `type`; returns how many. */
  enqueue(tenantId: string, type: WebhookEventType, payload: Record<string, unknown>): Promise<number>;
  /**
   * Takes up to `limit` due deliveries, at most one per endpoint and none for `busyEndpoints`, and leases them until
   * `now + leaseMs` (their nextAttemptAt moves), so two processes sharing the store do not send the same attempt
   * twice; a crash mid-send just lets the lease expire. One per endpoint keeps a slow endpoint from taking every
   * delivery slot (and keeps each endpoint's events roughly in order).
   */
  claimDue(
    now: number,
    limit: number,
    leaseMs: number,
    busyEndpoints?: ReadonlySet<string>,
  ): Promise<Array<WebhookDelivery & { endpoint: WebhookEndpoint }>>;
  recordAttempt(
    deliveryId: string,
    attempt: { ok: boolean; statusCode?: number; error?: string; durationMs: number },
    next: { nextAttemptAt: number } | { dead: true } | { delivered: true },
  ): Promise<void>;
  listAttempts(
    tenantId: string,
    endpointId: string,
    page?: { cursor?: string; limit?: number },
  ): Promise<{ rows: WebhookAttempt[]; nextCursor?: string }>;
  getDelivery(id: string): Promise<WebhookDelivery | undefined>;
  /** Deliveries waiting to be sent (the outbox depth, for metrics). */
  countPending(): Promise<number>;
}
