import type { Store } from '../store/index.js';

export type CallLimitResult = { ok: true } | { ok: false; reason: string };

/**
 * Checks the tenant's call limits before a call starts (inbound: before the session is created; outbound: before
 * the call is queued and again before dialing). `concurrentOnly` skips the per-period counts, for the re-check of a
 * call that is itself already counted in them.
 */
export async function checkCallLimit(
  store: Store,
  tenantId: string,
  opts: { concurrentOnly?: boolean; now?: number } = {},
): Promise<CallLimitResult> {
  const limits = await store.account.getCallLimits(tenantId);
  if (limits.maxConcurrent !== undefined) {
    const active = await store.calls.countActive(tenantId);
    if (active >= limits.maxConcurrent) {
      return { ok: false, reason: `Concurrent call limit reached (${active} of ${limits.maxConcurrent} in progress)` };
    }
  }
  if (opts.concurrentOnly) return { ok: true };
  const now = opts.now ?? Date.now();
  const periods: Array<[number | undefined, number, string]> = [
    [limits.maxPerHour, 3_600_000, 'hour'],
    [limits.maxPerDay, 86_400_000, 'day'],
  ];
  for (const [max, ms, name] of periods) {
    if (max === undefined) continue;
    const n = await store.calls.countSince(tenantId, new Date(now - ms).toISOString());
    if (n >= max) return { ok: false, reason: `Call limit per ${name} reached (${n} of ${max})` };
  }
  return { ok: true };
}
