import type { Logger } from '../log.js';
import { defaultGuardedFetch } from '../net/egress.js';
import { backoffDelay } from '../retry.js';
import {
  type Store,
  testModeOf,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEventType,
} from '../store/index.js';
import { wireEnvelope } from './events.js';
import { signPayload } from './signature.js';

export interface WebhookDispatcher {
  /** Persists the event for every subscribed endpoint (the outbox); delivery happens in the background. */
  enqueue(tenantId: string, type: WebhookEventType, payload: Record<string, unknown>): Promise<void>;
  start(): void;
  /** Stops polling and waits for in-flight deliveries (each bounded by the timeout). Undelivered events stay queued. */
  stop(): Promise<void>;
  /** Sends everything due now (tests, and the poll). */
  flush(): Promise<void>;
}

export interface WebhookDispatcherOptions {
  store: Store;
  logger: Logger;
  /** Default: the SSRF-guarded fetch with the environment's egress policy (src/net/egress.ts). */
  fetch?: typeof fetch;
  /** Poll period for due retries and for events queued by other processes, ms. */
  pollMs?: number;
  /** Per-request timeout, ms: a dead endpoint costs at most this per attempt and never blocks a call. */
  timeoutMs?: number;
  /** Attempts before a delivery is marked dead. */
  maxAttempts?: number;
  /** Backoff: baseDelayMs * 2^(attempt-1), capped, ±20 % jitter so retries from many events spread out. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Deliveries in flight at once (at most one per endpoint). */
  concurrency?: number;
  /**
   * Observability (src/observability): called as each attempt starts with the event type and the call it is about
   * (payload `call_id`); may return a W3C `traceparent` for the request and is told how the attempt ended.
   */
  observe?: (
    type: string,
    callId: string | undefined,
  ) => { traceparent?: string; end(ok: boolean, durationMs: number): void };
}

/**
 * At-least-once webhook delivery from the persisted outbox (store.webhooks). Each event keeps one id across
 * retries (X-Webhook-Id) so receivers can deduplicate. Headers:
 *   X-Webhook-Id, X-Webhook-Event, X-Webhook-Timestamp, X-Webhook-Attempt, X-Webhook-Signature (see signature.ts).
 * Any 2xx is success; anything else (or a timeout) is retried with exponential backoff until maxAttempts.
 */
/** The call an event is about (its `call_id`, in the envelope's data or at the top), for trace context. */
function callIdOf(payload: Record<string, unknown>): string | undefined {
  const data = payload.data as Record<string, unknown> | undefined;
  const id = data?.call_id ?? payload.call_id;
  return typeof id === 'string' ? id : undefined;
}

export function createWebhookDispatcher(opts: WebhookDispatcherOptions): WebhookDispatcher {
  const { store, logger } = opts;
  const isTest = testModeOf(store);
  const doFetch = opts.fetch ?? defaultGuardedFetch();
  const pollMs = opts.pollMs ?? 1000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxAttempts = opts.maxAttempts ?? 8;
  const baseDelayMs = opts.baseDelayMs ?? 5_000;
  const maxDelayMs = opts.maxDelayMs ?? 3_600_000;
  const concurrency = opts.concurrency ?? 8;
  // A crashed process's lease expires after this; a live one always finishes (timeout) well before.
  const leaseMs = timeoutMs + 5_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let halting = true;

  async function deliver(d: WebhookDelivery & { endpoint: WebhookEndpoint }): Promise<void> {
    const body = JSON.stringify(wireEnvelope(d.payload));
    const t = Math.floor(Date.now() / 1000);
    const attempt = d.attempts + 1;
    const started = performance.now();
    const callId = callIdOf(d.payload);
    const seen = opts.observe?.(d.type, callId);
    let ok = false;
    let statusCode: number | undefined;
    let error: string | undefined;
    try {
      const res = await doFetch(d.endpoint.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'voice-engine-webhooks/1',
          'x-webhook-id': d.eventId,
          'x-webhook-event': d.type,
          'x-webhook-timestamp': String(t),
          'x-webhook-attempt': String(attempt),
          'x-webhook-signature': signPayload(d.endpoint.secret, body, t),
          ...(seen?.traceparent ? { traceparent: seen.traceparent } : {}),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      statusCode = res.status;
      ok = res.status >= 200 && res.status < 300;
      if (!ok) error = `HTTP ${res.status}`;
      await res.body?.cancel().catch(() => undefined);
    } catch (err) {
      error = (err as Error).name === 'TimeoutError' ? `timeout after ${timeoutMs} ms` : (err as Error).message;
    }
    const durationMs = performance.now() - started;
    seen?.end(ok, durationMs);
    const result = { ok, durationMs, ...(statusCode !== undefined ? { statusCode } : {}), ...(error ? { error } : {}) };
    if (ok) {
      await store.webhooks.recordAttempt(d.id, result, { delivered: true });
    } else if (attempt >= maxAttempts) {
      logger.warn({ endpointId: d.endpoint.id, eventId: d.eventId, error }, 'webhook delivery dead after retries');
      await store.webhooks.recordAttempt(d.id, result, { dead: true });
    } else {
      const delay = backoffDelay(attempt, { baseMs: baseDelayMs, maxMs: maxDelayMs, jitter: 0.2 });
      await store.webhooks.recordAttempt(d.id, result, { nextAttemptAt: Date.now() + delay });
    }
  }

  /** Endpoints with a delivery in flight in this process, and the deliveries themselves. */
  const busy = new Set<string>();
  const inflight = new Set<Promise<void>>();

  /**
   * Fills free delivery slots with due deliveries (one per endpoint at a time) and returns how many it started.
   * A slot that frees up pumps again, so a slow endpoint only ever holds its own slot.
   */
  async function pump(): Promise<number> {
    let started = 0;
    while (inflight.size < concurrency) {
      const batch = await store.webhooks.claimDue(Date.now(), concurrency - inflight.size, leaseMs, busy);
      if (batch.length === 0) break;
      for (const d of batch) {
        busy.add(d.endpoint.id);
        const p: Promise<void> = deliver(d)
          .catch((err: unknown) => logger.error({ err }, 'webhook delivery error'))
          .finally(() => {
            busy.delete(d.endpoint.id);
            inflight.delete(p);
            if (!halting) kick();
          });
        inflight.add(p);
        started++;
      }
    }
    return started;
  }

  function kick(): void {
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await pump();
        } catch (err) {
          logger.error({ err }, 'webhook outbox error');
        }
      } while (again && !halting);
    })().finally(() => {
      running = undefined;
    });
  }

  return {
    async enqueue(tenantId, type, payload) {
      // Test mode: every event of a test tenant says so (its endpoints are its own, so live ones never see it).
      const marked = (await isTest(tenantId)) ? { ...payload, test: true } : payload;
      await store.webhooks.enqueue(tenantId, type, marked);
      if (!halting) kick();
    },
    start() {
      if (timer) return;
      halting = false;
      timer = setInterval(kick, pollMs);
      timer.unref();
      kick();
    },
    async stop() {
      halting = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
      await Promise.all([...inflight]);
    },
    async flush() {
      await running;
      // Until nothing is due and nothing is in flight (a finished delivery may make the same endpoint's next due).
      for (;;) {
        const started = await pump();
        if (started === 0 && inflight.size === 0) break;
        await Promise.race([...inflight]);
      }
    },
  };
}
