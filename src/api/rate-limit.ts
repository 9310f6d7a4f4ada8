/**
 * Rate limiting behind an interface so a shared store (Redis, Postgres) can back it when several engine processes
 * must share one budget (DESIGN.md 9). The default is an in-process token bucket per key.
 */
export interface RateLimiter {
  take(key: string): Promise<{ ok: true } | { ok: false; retryAfterSec: number }>;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** `perMinute` requests per key per minute, bursts up to `perMinute`. */
export function createTokenBucketLimiter(perMinute: number, now: () => number = Date.now): RateLimiter {
  const capacity = Math.max(1, perMinute);
  const perMs = capacity / 60_000;
  const buckets = new Map<string, Bucket>();
  let lastSweep = now();
  return {
    async take(key) {
      const t = now();
      // Forget full buckets once a minute so the map stays bounded by recently active keys.
      if (t - lastSweep > 60_000) {
        for (const [k, b] of buckets) if (b.tokens + (t - b.at) * perMs >= capacity) buckets.delete(k);
        lastSweep = t;
      }
      let b = buckets.get(key);
      if (!b) {
        b = { tokens: capacity, at: t };
        buckets.set(key, b);
      }
      b.tokens = Math.min(capacity, b.tokens + (t - b.at) * perMs);
      b.at = t;
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterSec: Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000)) };
    },
  };
}
