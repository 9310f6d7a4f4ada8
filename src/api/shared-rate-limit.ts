import type { RateCountersRepo } from '../store/index.js';
import type { RateLimiter } from './rate-limit.js';

const WINDOW_MS = 60_000;

/**
 * The rate limiter for engines sharing a store: counts live in the store (one row per key per minute), so
 * `perMinute` holds across all engines together rather than per process. The estimate slides: the previous minute's
 * count weighted by how much of it still overlaps the last 60 s, plus this minute's (Cloudflare's sliding-window
 * counter), so a burst at a minute boundary cannot pass twice the limit. When the store cannot be reached the
 * request passes: the limiter must not turn a database hiccup into an API outage.
 */
export function createStoreLimiter(
  counters: RateCountersRepo,
  perMinute: number,
  now: () => number = Date.now,
): RateLimiter {
  const limit = Math.max(1, perMinute);
  return {
    async take(key) {
      const t = now();
      let c: { current: number; previous: number };
      try {
        c = await counters.hit(key, WINDOW_MS, t);
      } catch {
        return { ok: true };
      }
      const elapsed = (t % WINDOW_MS) / WINDOW_MS;
      const estimate = c.previous * (1 - elapsed) + c.current;
      if (estimate <= limit) return { ok: true };
      return { ok: false, retryAfterSec: Math.max(1, Math.ceil((WINDOW_MS - (t % WINDOW_MS)) / 1000)) };
    },
  };
}
