/**
 * The one retry helper: exponential backoff with jitter (backoffDelay), the wait (sleepAbortable) and the loop that
 * applies them (retry). Providers (src/providers/resilience.ts and the Deepgram reconnect), carrier call control
 * (src/channels/control-request.ts), the Postgres store across a restart and the webhook outbox (which stores the
 * next attempt's time instead of waiting) all take their delays from here.
 */
export interface Backoff {
  /** Delay before the first retry, ms; doubled per attempt. */
  baseMs: number;
  /** Cap, ms. */
  maxMs: number;
  /**
   * 'equal': half the capped delay plus a random half ("equal jitter": never 0, never above the cap); a number f:
   * the capped delay times a random factor in [1 - f, 1 + f] (spreads many senders); default: none.
   */
  jitter?: 'equal' | number;
  /** Tests pin it. Default Math.random. */
  random?: () => number;
}

/** The delay before retry `attempt` (1 = the first retry), ms: baseMs * 2^(attempt-1), capped, jittered, rounded. */
export function backoffDelay(attempt: number, b: Backoff): number {
  const cap = Math.min(b.maxMs, b.baseMs * 2 ** Math.max(0, attempt - 1));
  const r = b.jitter === undefined ? 0 : (b.random ?? Math.random)();
  if (b.jitter === 'equal') return Math.round(cap / 2 + (r * cap) / 2);
  if (typeof b.jitter === 'number') return Math.round(cap * (1 - b.jitter + 2 * b.jitter * r));
  return Math.round(cap);
}

/** Wait ms; rejects with an `aborted` error when `signal` aborts. */
export function sleepAbortable(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryOptions {
  /** The delay before each retry; a number instead of the schedule (0: retry at once). */
  backoff: Backoff | number;
  /** Tries at most, the first one included. Default unbounded (then set `deadline`). */
  maxAttempts?: number;
  /** Give up when the next wait would end after this time (Date.now() ms). */
  deadline?: number;
  /** Wait before the first try too (a reconnect after a drop). */
  waitFirst?: boolean;
  /** Whether this failure of try `attempt` is worth another try. Default: every failure. */
  retryable?(err: unknown, attempt: number): boolean;
  signal?: AbortSignal;
}

/**
 * Runs fn(attempt) (1-based) until it resolves; after a failure that `retryable` accepts, waits the backoff and
 * tries again while attempts and the deadline allow. The last failure is what rejects.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const delay = (n: number) => (typeof o.backoff === 'number' ? o.backoff : backoffDelay(n, o.backoff));
  for (let attempt = 1; ; attempt++) {
    if (attempt > 1 || o.waitFirst) {
      const wait = delay(o.waitFirst ? attempt : attempt - 1);
      if (wait > 0) await sleepAbortable(wait, o.signal);
    }
    try {
      return await fn(attempt);
    } catch (err) {
      const more = o.maxAttempts === undefined || attempt < o.maxAttempts;
      const next = delay(o.waitFirst ? attempt + 1 : attempt);
      const inTime = o.deadline === undefined || Date.now() + next <= o.deadline;
      if (!more || !inTime || o.signal?.aborted || (o.retryable && !o.retryable(err, attempt))) throw err;
    }
  }
}
