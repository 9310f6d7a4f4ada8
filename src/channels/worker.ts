import { admitCall } from '../api/call-limits.js';
import type { Logger } from '../log.js';
import { backoffDelay } from '../retry.js';
import type { OutboundJob, Store } from '../store/index.js';
import { recordCarrierOutcome, type WebhookSink } from './outcome.js';
import { DialError, type OutboundDialer } from './types.js';

export interface OutboundWorker {
  start(): void;
  /** Stops polling and waits for the dial in progress, if any. */
  stop(): Promise<void>;
  /** Something was queued: look now instead of at the next poll. */
  poke(): void;
  /** Processes every due job once (tests, and the poll). */
  drain(): Promise<void>;
}

export interface OutboundWorkerOptions {
  store: Store;
  dialer: OutboundDialer;
  logger: Logger;
  webhooks?: WebhookSink;
  /** This engine's id (src/cluster/presence.ts): the call is owned by it while ringing. */
  engineId?: string;
  /** Poll period for jobs queued by other processes or due for retry, ms. */
  pollMs?: number;
  /** A dial that takes longer than this is assumed dead and retaken (by any process), ms. */
  leaseMs?: number;
  /** Wait before retrying a retryable carrier error (doubling per attempt), ms. */
  retryDelayMs?: number;
  /** Wait before trying again a job refused by the tenant's concurrent-call limit (not an attempt), ms. */
  limitRetryMs?: number;
  /** Dials in flight at once in this process (each call still within its tenant's concurrent-call limit). */
  concurrency?: number;
  maxAttempts?: number;
}

/**
 * Drains the persisted outbound queue (store.outbound) with `concurrency` dialing lanes: each claims a job (leased,
 * so several engine processes share the queue), takes a line under the tenant's concurrent-call limit (atomic
 * across processes), dials, and records the outcome on the call. No line free: the job goes back without counting
 * as an attempt and is tried again after `limitRetryMs`. A failed call gets
 * status `failed`, its reason, and a `call.failed` webhook.
 */
export function createOutboundWorker(opts: OutboundWorkerOptions): OutboundWorker {
  const { store, dialer, logger } = opts;
  const pollMs = opts.pollMs ?? 1000;
  const leaseMs = opts.leaseMs ?? 60_000;
  const retryDelayMs = opts.retryDelayMs ?? 15_000;
  const maxAttempts = opts.maxAttempts ?? 3;
  const limitRetryMs = opts.limitRetryMs ?? 2000;
  const concurrency = Math.max(1, opts.concurrency ?? 8);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = true;
  let halting = false;

  async function fail(job: OutboundJob, reason: string): Promise<void> {
    const call = await store.calls.find(job.callId);
    if (!call) return;
    await recordCarrierOutcome({ store, webhooks: opts.webhooks }, call, {
      status: 'failed',
      source: 'dialer',
      endReason: reason,
      reason,
    }).catch((err: unknown) => {
      logger.warn({ err, callId: job.callId }, 'dial failure not recorded');
    });
  }

  async function one(): Promise<boolean> {
    const job = await store.outbound.claimNext(Date.now(), leaseMs);
    if (!job) return false;
    const log = logger.child({ callId: job.callId, tenantId: job.tenantId });
    try {
      const assistant = await store.assistants.get(job.tenantId, job.assistantId);
      if (!assistant) {
        await store.outbound.finish(job.id, 'failed', 'assistant deleted');
        await fail(job, 'Assistant was deleted before dialing');
        return true;
      }
      // Takes the line atomically (status ringing under the tenant's admission lock), so engines dialing the same
      // tenant's queue at once never exceed its concurrent limit together.
      const limit = await admitCall(
        store,
        job.tenantId,
        { activate: { id: job.callId, status: 'ringing', ...(opts.engineId ? { ownerId: opts.engineId } : {}) } },
        { concurrentOnly: true },
      );
      if (!limit.ok) {
        await store.outbound.requeue(job.id, Date.now() + limitRetryMs, limit.reason);
        return true;
      }
      const r = await dialer.dial({
        callId: job.callId,
        tenantId: job.tenantId,
        assistant,
        to: job.to,
        ...(job.from ? { from: job.from } : {}),
        channel: job.channel,
        metadata: job.metadata,
      });
      await store.calls.update(job.callId, { status: r.status ?? 'ringing', providerCallId: r.providerCallId });
      await store.calls.appendEvent(job.callId, 'state', {
        status: r.status ?? 'ringing',
        providerCallId: r.providerCallId,
      });
      await store.outbound.finish(job.id, 'done');
      log.info({ providerCallId: r.providerCallId }, 'outbound call dialed');
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      if (err instanceof DialError && err.retryable && job.attempts < maxAttempts) {
        log.warn({ err: msg, attempt: job.attempts }, 'dial failed, will retry');
        await store.calls.update(job.callId, { status: 'queued' });
        const delay = backoffDelay(job.attempts, { baseMs: retryDelayMs, maxMs: Number.POSITIVE_INFINITY });
        await store.outbound.retryAt(job.id, Date.now() + delay, msg);
      } else {
        log.warn({ err: msg }, 'dial failed');
        await store.outbound.finish(job.id, 'failed', msg);
        await fail(job, msg);
      }
    }
    return true;
  }

  /** One dialing lane: claims and dials jobs until none is due. */
  async function lane(): Promise<void> {
    try {
      while (!halting && (await one())) {
        // next job
      }
    } catch (err) {
      logger.error({ err }, 'outbound queue error');
    }
  }

  async function drain(): Promise<void> {
    do {
      again = false;
      await Promise.all(Array.from({ length: concurrency }, lane));
    } while (again);
  }

  function kick(): void {
    if (running) {
      again = true;
      return;
    }
    running = drain().finally(() => {
      running = undefined;
    });
  }

  return {
    start() {
      if (timer) return;
      stopped = false;
      halting = false;
      timer = setInterval(kick, pollMs);
      timer.unref();
      kick();
    },
    async stop() {
      stopped = true;
      halting = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
    poke() {
      if (!stopped) kick();
    },
    drain,
  };
}
