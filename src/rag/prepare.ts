import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { EngineError, type ErrorCode } from '../errors.js';
import { type Chunk, chunkBlocks } from './chunk.js';
import { parseDocument } from './parse.js';

/**
 * Parsing, chunking and hashing a document: CPU work of up to seconds for a 20 MB upload, so it runs on a worker
 * thread, never on the event loop that paces call audio (the old in-line version stalled every live call for
 * 400-500 ms on a 19 MB document). One worker per process, started on first use and kept (unref'd); jobs are
 * queued to it in order. Content comes either in memory or as a file (uploads are streamed to a temp file, which
 * the worker reads itself, so the main thread never holds the document).
 */
export interface PrepareInput {
  content?: Uint8Array | string;
  /** A file holding the content (used instead of `content`). */
  file?: string;
  mime?: string;
  name?: string;
  maxBytes: number;
  chunk: { maxChars?: number; overlapChars?: number };
}

export interface PreparedDocument {
  chunks: Chunk[];
  mime: string;
  characters: number;
  bytes: number;
  /** sha256 of the content, hex */
  hash: string;
}

/** The work itself (the worker runs this; also callable in-line). */
export async function prepareDocument(input: PrepareInput): Promise<PreparedDocument> {
  const content = input.file !== undefined ? await readFile(input.file) : (input.content ?? '');
  const bytes = typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength;
  if (bytes > input.maxBytes)
    throw new EngineError('PAYLOAD_TOO_LARGE', `The document is ${bytes} bytes; the limit is ${input.maxBytes}`);
  const parsed = await parseDocument({ content, mime: input.mime, name: input.name });
  const chunks = chunkBlocks(parsed.blocks, input.chunk);
  const hash = createHash('sha256')
    .update(typeof content === 'string' ? Buffer.from(content) : content)
    .digest('hex');
  return { chunks, mime: parsed.mime, characters: parsed.text.length, bytes, hash };
}

type Reply =
  | { id: number; ok: true; result: PreparedDocument }
  | { id: number; ok: false; code?: string; message: string };

let worker: Worker | undefined;
let nextId = 0;
const waiting = new Map<number, { resolve(r: PreparedDocument): void; reject(e: Error): void }>();

function getWorker(): Worker {
  if (worker) return worker;
  // Under tsx (tests, `npm run dev`) this module is a .ts file and so is the worker's, which the worker loads
  // after registering tsx's loader; the built package runs the .js directly.
  const w = import.meta.url.endsWith('.ts')
    ? new Worker(
        `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(new URL('./prepare-worker.ts', import.meta.url).href)}); })`,
        { eval: true },
      )
    : new Worker(new URL('./prepare-worker.js', import.meta.url));
  w.unref();
  w.on('message', (m: Reply) => {
    const p = waiting.get(m.id);
    if (!p) return;
    waiting.delete(m.id);
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
  worker = w;
  return w;
}

/** prepareDocument on the worker thread. */
export function prepareOffLoop(input: PrepareInput): Promise<PreparedDocument> {
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    getWorker().postMessage({ id, input });
  });
}
