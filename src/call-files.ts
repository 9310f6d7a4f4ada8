import path from 'node:path';
import { newId } from './store/ids.js';

/**
 * Where a call's files go (SECURITY.md, "Host, files and crashes"): named by our own call id (`c_…`), never by a
 * carrier's id (CallSid and the like are chosen by whoever opens the stream), under one directory per tenant:
 *   DATA_DIR/recordings/<tenantId>/<callId>.wav     stereo recording (src/call/recorder.ts)
 *   DATA_DIR/wire/<tenantId>/<callId>.jsonl         opt-in wire log (src/call/wire-recorder.ts)
 * Both are created exclusively (flag `wx`): an existing file is never overwritten.
 */
export interface CallFiles {
  recording: string;
  wire: string;
}

/** Our ids only (`c_…`, `ten_…`, base64url): anything else is refused rather than sanitized into a path. */
const SAFE_ID = /^[A-Za-z0-9_-]{1,100}$/;

export function callFiles(dataDir: string, tenantId: string, callId: string): CallFiles {
  if (!SAFE_ID.test(tenantId) || !SAFE_ID.test(callId)) throw new Error('callFiles: tenant and call ids must be ours');
  return {
    recording: path.join(dataDir, 'recordings', tenantId, `${callId}.wav`),
    wire: path.join(dataDir, 'wire', tenantId, `${callId}.jsonl`),
  };
}

/** A session with no call record (local engine, replay, tests): a fresh id under `local`. */
export function localCallFiles(dataDir: string): CallFiles {
  return callFiles(dataDir, 'local', newId('c', 12));
}

/** The directory of a tenant's recordings: the only place the API serves one of its recordings from. */
export function tenantRecordingsDir(dataDir: string, tenantId: string): string {
  return path.join(dataDir, 'recordings', tenantId);
}
