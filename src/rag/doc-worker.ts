import { Worker } from 'node:worker_threads';
import { EngineError, type ErrorCode } from '../errors.js';
import type { DocumentSummary, PrepareInput } from './prepare.js';
import type { DocumentInfo } from './types.js';

/**
 * The document worker: one thread per process that does everything heavy in ingesting a document, so that a 20 MB
 * upload costs the event loop pacing call audio no more than a few ms:
 *
 *   main thread                        document worker (src/rag/doc-worker-thread.ts)
 *   prepare(file) ───────────────────▶ read, parse, chunk, hash; keeps the chunks under a job id
 *                 ◀─────────────────── summary (sizes, hash, chunk count, tokens)
 *   texts(job, i, j) ────────────────▶ the texts to embed, a batch at a time (the embedder lives on the main thread:
 *                 ◀───────────────────  it may be a cloud API; vectors are packed in one Float32Array)
 *   write(job, info, vectors) ───────▶ rows, Arrow conversion and the LanceDB merge-insert commit, on the worker's
 *                 ◀───────────────────  own connection to the same store (vectors transferred, not copied)
 *
 * The per-tenant write lock and the follow-up index work stay on the main thread (TableStore). Measured before
 * this split (test/rag/upload.test.ts): parsing on a worker but Arrow conversion and the commit's IPC encoding on
 * the main thread stalled the event loop up to 1.2 s for a 19.9 MB document. Started on first use; referenced only
 * while a request is pending.
 */
export interface WriteRequest {
  /** LanceDB URI and connection options of the store (the worker opens its own connection) */
  uri: string;
  /** LanceDB storage options of an object-store URI (src/storage/knowledge.ts) */
  storageOptions?: Record<string, string>;
  table: string;
  info: DocumentInfo;
  /** Vector column size of the table; undefined when it has none */
  vectorDim?: number;
  /** Only this document's stale chunks are deleted by the merge (the `whenNotMatchedBySourceDelete` filter). */
  staleWhere: string;
}

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; code?: string; message: string };

export type WorkerRequest =
  | { op: 'prepare'; input: PrepareInput; keep: boolean }
  | { op: 'texts'; job: number; start: number; end: number }
  | { op: 'write'; job: number; req: WriteRequest; vectors?: Float32Array }
  | { op: 'release'; job: number };

let worker: Worker | undefined;
let nextId = 0;
const waiting = new Map<number, { resolve(r: unknown): void; reject(e: Error): void }>();

function getWorker(): Worker {
  if (worker) return worker;
  // Under tsx (tests, `npm run dev`) this module is a .ts file and so is the worker's, which the worker loads
  // after registering tsx's loader; the built package runs the .js directly.
  const w = import.meta.url.endsWith('.ts')
    ? new Worker(
        `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(new URL('./doc-worker-thread.ts', import.meta.url).href)}); })`,
        { eval: true },
      )
    : new Worker(new URL('./doc-worker-thread.js', import.meta.url));
  w.on('message', (m: Reply) => {
    const p = waiting.get(m.id);
    if (!p) return;
    waiting.delete(m.id);
    if (waiting.size === 0) w.unref();
    if (m.ok) p.resolve(m.result);
    else if (m.code) p.reject(new EngineError(m.code as ErrorCode, m.message));
    else p.reject(new Error(m.message));
  });
  const fail = (err: Error) => {
    worker = undefined;
    for (const p of waiting.values()) p.reject(err);
    waiting.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`document worker exited (${code})`)));
  // Referenced only while a request waits for its reply (call()): an idle worker never keeps a finished process
  // (a CLI bench, a script) alive, and a pending request keeps it alive until the reply. Unref'd after the
  // listeners, since attaching a 'message' listener refs the worker's port again.
  w.unref();
  worker = w;
  return w;
}

function call<T>(req: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<T> {
  const id = ++nextId;
  return new Promise<T>((resolve, reject) => {
    const w = getWorker();
    if (waiting.size === 0) w.ref();
    waiting.set(id, { resolve: resolve as (r: unknown) => void, reject });
    w.postMessage({ id, ...req }, transfer);
  });
}

/** Parse, chunk and hash on the worker. With `keep`, the chunks stay there under the returned job id. */
export function prepareJob(input: PrepareInput, keep: boolean): Promise<{ job: number; summary: DocumentSummary }> {
  return call({ op: 'prepare', input, keep });
}

/** The embedding texts of chunks [start, end) of a kept job. */
export function jobTexts(job: number, start: number, end: number): Promise<string[]> {
  return call({ op: 'texts', job, start, end });
}

/** Write a kept job's chunks as one merge-insert commit; the job is released either way. */
export function writeJob(job: number, req: WriteRequest, vectors?: Float32Array): Promise<void> {
  return call(
    { op: 'write', job, req, ...(vectors ? { vectors } : {}) },
    vectors ? [vectors.buffer as ArrayBuffer] : [],
  );
}

/** Forget a kept job (ingestion failed before the write). */
export function releaseJob(job: number): void {
  void call({ op: 'release', job }).catch(() => {});
}
