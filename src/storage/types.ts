import type { Readable } from 'node:stream';

/**
 * Where a call's finished files live (recordings, wire logs): one interface, a local directory by default
 * (src/storage/local.ts) and an S3-compatible bucket for many engines (src/storage/s3.ts). During a call the
 * recorder streams to a spool file under DATA_DIR (bounded memory, readable after a crash); when the call ends the
 * file is handed to the storage with `putFile` and served back with `get`.
 *
 * Keys are ours only: `recordings/<tenantId>/<callId>.wav`, `wire/<tenantId>/<callId>.jsonl` (src/call-files.ts),
 * never a carrier's id or anything from a request.
 */
export interface StoredObject {
  body: Readable;
  size: number;
}

export interface FileStorage {
  readonly kind: 'local' | 's3';
  /** Stores the finished local file `file` under `key`; the spool file is removed once stored elsewhere. */
  putFile(key: string, file: string, contentType: string): Promise<void>;
  /** The object under `key`, or undefined when there is none. */
  get(key: string): Promise<StoredObject | undefined>;
  /** Size of the object under `key`, or undefined when there is none. */
  head(key: string): Promise<number | undefined>;
  delete(key: string): Promise<void>;
}
