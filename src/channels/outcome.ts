import type { CallRecord, CallStatus, Store, WebhookEventType } from '../store/index.js';

/** Where call webhooks are queued (the outbox). */
export interface WebhookSink {
  enqueue(tenantId: string, type: WebhookEventType, payload: Record<string, unknown>): Promise<void>;
}

/** What a carrier said about a call before its media arrived. */
export interface CarrierOutcome {
  status: CallStatus;
  /** Who said it: the event's `source`. */
  source: 'twilio' | 'sip' | 'dialer';
  /** The record's endReason when the outcome ends the call. */
  endReason: string;
  /** The `call.failed` webhook's reason (default: the status). */
  reason?: string;
  providerCallId?: string;
  /** What the carrier billed, when it says. */
  durationMs?: number;
  /** Carrier-specific fields of the `call.failed` payload (e.g. `sip_status`). */
  extra?: Record<string, unknown>;
}

const TERMINAL_FAILURES: ReadonlySet<CallStatus> = new Set(['busy', 'failed', 'no-answer', 'canceled']);

/**
 * The one place a carrier's word on a call before its media stream reaches the record (the Twilio status callback,
 * the SIP trunk's final response, a dial that failed): only while the record is `queued` or `ringing`, since once
 * the stream is up the call session owns the record. A terminal status ends the record; a failure also queues
 * `call.failed`. Returns whether the record changed.
 */
export async function recordCarrierOutcome(
  d: { store: Store; webhooks?: WebhookSink },
  call: CallRecord,
  o: CarrierOutcome,
): Promise<boolean> {
  if (call.status !== 'queued' && call.status !== 'ringing') return false;
  const terminal = o.status !== 'ringing' && o.status !== 'queued';
  await d.store.calls.update(call.id, {
    status: o.status,
    ...(o.providerCallId ? { providerCallId: o.providerCallId } : {}),
    ...(terminal ? { endedAt: new Date().toISOString(), endReason: o.endReason } : {}),
    ...(terminal && o.durationMs !== undefined ? { durationMs: o.durationMs } : {}),
  });
  await d.store.calls.appendEvent(call.id, 'state', {
    status: o.status,
    source: o.source,
    ...(terminal ? { reason: o.endReason } : {}),
  });
  if (TERMINAL_FAILURES.has(o.status)) {
    await d.webhooks?.enqueue(call.tenantId, 'call.failed', {
      call_id: call.id,
      assistant_id: call.assistantId,
      direction: call.direction,
      to: call.to ?? null,
      metadata: call.metadata,
      reason: o.reason ?? o.status,
      ...o.extra,
    });
  }
  return true;
}
