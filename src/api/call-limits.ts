import type { AdmitAction, CallCounts, CallLimits, CallRecord, Store } from '../store/index.js';

export type AdmitResult = { ok: true; record: CallRecord } | { ok: false; reason: string };

/** Why the limits refuse one more call given these counts, or undefined when they allow it. */
export function limitRefusal(limits: CallLimits, c: CallCounts, concurrentOnly = false): string | undefined {
  if (limits.maxConcurrent !== undefined && c.active >= limits.maxConcurrent) {
    return `Concurrent call limit reached (${c.active} of ${limits.maxConcurrent} in progress)`;
  }
  if (concurrentOnly) return undefined;
  if (limits.maxPerHour !== undefined && c.lastHour >= limits.maxPerHour) {
    return `Call limit per hour reached (${c.lastHour} of ${limits.maxPerHour})`;
  }
  if (limits.maxPerDay !== undefined && c.lastDay >= limits.maxPerDay) {
    return `Call limit per day reached (${c.lastDay} of ${limits.maxPerDay})`;
  }
  return undefined;
}

/**
 * Starts a call within the tenant's limits, atomically across every engine sharing the store (count and create
 * under one per-tenant lock: CallsRepo.admit). Inbound: create the call; outbound: create it queued (all limits),
 * then activate it before dialing (`concurrentOnly`: the call is already counted in the per-period limits).
 */
export async function admitCall(
  store: Store,
  tenantId: string,
  action: AdmitAction,
  opts: { concurrentOnly?: boolean; now?: number } = {},
): Promise<AdmitResult> {
  const limits = await store.account.getCallLimits(tenantId);
  const limited =
    limits.maxConcurrent !== undefined ||
    (!opts.concurrentOnly && (limits.maxPerHour !== undefined || limits.maxPerDay !== undefined));
  // No limit to hold: nothing to count, so no per-tenant lock. Under it, every call start of a tenant (on every
  // engine) queued behind the one before: a burst of hundreds of calls waited seconds for the lock and the pool.
  if (!limited && 'create' in action) {
    return { ok: true, record: await store.calls.create({ ...action.create, tenantId }) };
  }
  return store.calls.admit(tenantId, action, (c) => limitRefusal(limits, c, opts.concurrentOnly), opts.now);
}
