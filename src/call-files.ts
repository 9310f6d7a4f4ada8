import { existsSync } from 'node:fs';
import path from 'node:path';
import type { FileStorage } from './storage/index.js';
import { newId } from './store/ids.js';

/**
 * Where a call's files go (SECURITY.md, "Host, files and crashes"): named by our own call id (`c_…`), never by a
 * carrier's id (CallSid and the like are chosen by whoever opens the stream), under one directory per tenant:
 *   DATA_DIR/recordings/<tenantId>/<callId>.wav     stereo recording (src/call/recorder.ts)
 *   DATA_DIR/wire/<tenantId>/<callId>.jsonl         opt-in wire log (src/call/wire-recorder.ts)
 * Both are created exclusively (flag `wx`): an existing file is never overwritten. These are spool files: when
 * the call ends they are handed to the file storage (src/storage) under the same relative path as key, which is
 * also where a recording is served from (derived from the call's own id and tenant, never a path in a row).
 */
export interface CallFiles {
  recording: string;
  wire: string;
}

/** Our ids only (`c_…`, `ten_…`, base64url): anything else is refused rather than sanitized into a path. */
const SAFE_ID = /^[A-Za-z0-9_-]{1,100}$/;

/** The storage keys of a call's files (relative, `/`-separated): `recordings/<tenantId>/<callId>.wav`, ... */
export function callFileKeys(tenantId: string, callId: string): CallFiles {
  if (!SAFE_ID.test(tenantId) || !SAFE_ID.test(callId)) throw new Error('callFiles: tenant and call ids must be ours');
  return { recording: `recordings/${tenantId}/${callId}.wav`, wire: `wire/${tenantId}/${callId}.jsonl` };
}

/** The spool files of a call under DATA_DIR (the keys, as paths). */
export function callFiles(dataDir: string, tenantId: string, callId: string): CallFiles {
  const keys = callFileKeys(tenantId, callId);
  return { recording: path.join(dataDir, keys.recording), wire: path.join(dataDir, keys.wire) };
}

/**
 * After a call: hands its finished spool files (those that exist) to the file storage. With the local default this
 * changes nothing; with S3 the files are uploaded and the spool copies removed.
 */
export async function storeCallFiles(storage: FileStorage, dataDir: string, tenantId: string, callId: string) {
  const keys = callFileKeys(tenantId, callId);
  const files = callFiles(dataDir, tenantId, callId);
  if (existsSync(files.recording)) await storage.putFile(keys.recording, files.recording, 'audio/wav');
  if (existsSync(files.wire)) await storage.putFile(keys.wire, files.wire, 'application/x-ndjson');
}

/** A session with no call record (local engine, replay, tests): a fresh id under `local`. */
export function localCallFiles(dataDir: string): CallFiles {
  return callFiles(dataDir, 'local', newId('c', 12));
}
