import { existsSync } from 'node:fs';
import { finalizeStreamedWav } from './call/recorder.js';
import { callFiles, storeCallFiles } from './call-files.js';
import type { Logger } from './log.js';
import type { FileStorage } from './storage/index.js';
import type { CallRecord, CallsRepo, WebhookEventType } from './store/index.js';

/**
 * Every call record is closed, whatever happens to the process that ran it (SECURITY.md, "Host, files and
 * crashes"). Engine presence (src/cluster/presence.ts) finds the calls whose owner engine stopped heartbeating and
 * marks them failed exactly once; what is left to do for such a call is here: its recording finalized from what
 * is on disk (the recorder streams 10 s blocks under a header that says "still streaming"), the record given its
 * recording and duration, and `call.failed` queued in the webhook outbox. A call that no session ran (echo mode,
 * or a stream that closed between resolve and going live) is closed when its stream ends.
 */
export interface CallRecoveryDeps {
  calls: CallsRepo;
  webhooks: { enqueue(tenantId: string, type: WebhookEventType, payload: Record<string, unknown>): Promise<void> };
  logger: Logger;
  dataDir: string;
  /** Where finished call files go (src/storage); a reaped call's spool files, when on this host, are stored too. */
  files?: FileStorage;
  /** The webhook's `recording_url` / `recording_expires_at` for a call (signed link), or none. */
  recordingLink?: (callId: string) => Record<string, string>;
}

/** After presence closed `c` (status failed, end_reason set): recording, duration and the call.failed webhook. */
export async function finishReapedCall(d: CallRecoveryDeps, c: CallRecord): Promise<void> {
  const file = callFiles(d.dataDir, c.tenantId, c.id).recording;
  const kept = existsSync(file) ? await finalizeStreamedWav(file) : undefined;
  if (d.files) {
    await storeCallFiles(d.files, d.dataDir, c.tenantId, c.id).catch((err: unknown) =>
      d.logger.warn({ err: (err as Error).message, callId: c.id }, 'call files not stored'),
    );
  }
  const endedAt = c.endedAt ?? new Date().toISOString();
  const startedAt = c.startedAt ?? c.createdAt;
  const durationMs = Math.max(0, Date.parse(endedAt) - Date.parse(startedAt));
  await d.calls.update(c.id, { durationMs, ...(kept !== undefined ? { recordingPath: file } : {}) });
  const reason = c.endReason ?? 'engine_lost';
  d.logger.warn({ callId: c.id, tenantId: c.tenantId, recordingBytes: kept }, 'call of a stopped engine closed');
  // call.failed (docs/webhooks.md): its schema's fields, plus what a finished call's call.ended would carry.
  await d.webhooks.enqueue(c.tenantId, 'call.failed', {
    call_id: c.id,
    assistant_id: c.assistantId,
    direction: c.direction,
    to: c.to ?? null,
    metadata: c.metadata,
    reason,
    protocol: c.protocol,
    started_at: startedAt,
    ended_at: endedAt,
    duration_ms: durationMs,
    end_reason: reason,
    ended_by: reason,
    ...(kept !== undefined ? (d.recordingLink?.(c.id) ?? {}) : {}),
  });
}

/**
 * A call that no session ran, closed when its stream ends: echo as `completed` / `echo_ended` with `call.ended`,
 * the other as `failed` / `stream_closed` with `call.failed`.
 */
export async function closeSessionlessCall(
  d: Pick<CallRecoveryDeps, 'calls' | 'webhooks'>,
  c: { id: string; tenantId: string; assistantId: string; protocol: string; startedAt: string; echo: boolean },
): Promise<void> {
  const endedAt = new Date().toISOString();
  const durationMs = Math.max(0, Date.parse(endedAt) - Date.parse(c.startedAt));
  const endReason = c.echo ? 'echo_ended' : 'stream_closed';
  await d.calls.update(c.id, { status: c.echo ? 'completed' : 'failed', endReason, endedAt, durationMs });
  const common = {
    call_id: c.id,
    assistant_id: c.assistantId,
    protocol: c.protocol,
    started_at: c.startedAt,
    ended_at: endedAt,
    duration_ms: durationMs,
    end_reason: endReason,
  };
  if (c.echo) {
    await d.webhooks.enqueue(c.tenantId, 'call.ended', {
      ...common,
      ended_by: 'caller',
      turns: 0,
      barge_ins: 0,
      transcript: [],
      digits: [],
      tool_calls: [],
    });
  } else {
    await d.webhooks.enqueue(c.tenantId, 'call.failed', { ...common, reason: endReason, ended_by: 'stream_closed' });
  }
}
