/**
 * The W3C `traceparent` of each call this process traces, by our call id, for the requests made on a call's behalf
 * (HTTP tools, webhooks) by code that has the call id but not the span. Bounded: the oldest entries go first, so a
 * webhook retried long after its call simply starts a new trace.
 */
const MAX_ENTRIES = 10_000;
const byCall = new Map<string, string>();

export function rememberTraceparent(callId: string, traceparent: string): void {
  if (!traceparent) return;
  byCall.delete(callId);
  byCall.set(callId, traceparent);
  if (byCall.size > MAX_ENTRIES) {
    const oldest = byCall.keys().next().value;
    if (oldest !== undefined) byCall.delete(oldest);
  }
}

export function traceparentFor(callId: string): string | undefined {
  return byCall.get(callId);
}

/** Headers to add to a request made on behalf of `callId` (none when the call is not traced). */
export function traceHeaders(callId: string | undefined): Record<string, string> {
  const tp = callId ? byCall.get(callId) : undefined;
  return tp ? { traceparent: tp } : {};
}
