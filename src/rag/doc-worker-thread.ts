import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import * as lancedb from '@lancedb/lancedb';
import type { Schema } from 'apache-arrow';
import { EngineError } from '../errors.js';
import type { Chunk } from './chunk.js';
import type { WorkerRequest } from './doc-worker.js';
import { prepareDocument, summarize } from './prepare.js';
import { embedText, toRow } from './rows.js';

/**
 * The document worker thread (src/rag/doc-worker.ts): kept jobs' chunks, and one LanceDB connection per store URI.
 * Requests may interleave (a write awaits LanceDB while the next document is parsed); errors keep their
 * EngineError code. A kept job nobody writes or releases (its upload request died) is dropped after an hour.
 */
const KEEP_MS = 60 * 60_000;

// Linux: this thread (and the LanceDB threads it starts) runs at a lower CPU priority than the event loop pacing
// call audio, so that on a busy box the scheduler wakes the pacer first. Best effort (nice 10; errors ignored).
try {
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 10);
} catch {
  // not Linux, or not permitted: the work still runs off the event loop
}
const jobs = new Map<number, { chunks: Chunk[]; at: number }>();
const connections = new Map<string, Promise<lancedb.Connection>>();

function kept(job: number): Chunk[] {
  const j = jobs.get(job);
  if (!j) throw new Error(`document job ${job} is not on the worker`);
  return j.chunks;
}

function connect(uri: string, storageOptions?: Record<string, string>): Promise<lancedb.Connection> {
  let c = connections.get(uri);
  if (!c) {
    c = lancedb.connect(uri, storageOptions ? { storageOptions } : {});
    connections.set(uri, c);
    c.catch(() => connections.delete(uri));
  }
  return c;
}

async function handle(m: WorkerRequest & { id: number }): Promise<unknown> {
  const now = Date.now();
  for (const [id, j] of jobs) if (now - j.at > KEEP_MS) jobs.delete(id);
  switch (m.op) {
    case 'prepare': {
      const prepared = await prepareDocument(m.input);
      if (m.keep) jobs.set(m.id, { chunks: prepared.chunks, at: now });
      return { job: m.id, summary: summarize(prepared) };
    }
    case 'texts':
      return kept(m.job).slice(m.start, m.end).map(embedText);
    case 'write': {
      const chunks = kept(m.job);
      try {
        const { info, vectorDim, staleWhere } = m.req;
        const db = await connect(m.req.uri, m.req.storageOptions);
        const table = await db.openTable(m.req.table);
        try {
          const schema = (await table.schema()) as unknown as Schema;
          const v = m.vectors;
          const rows = chunks.map((c, i) =>
            toRow(info, c, v && vectorDim ? v.subarray(i * vectorDim, (i + 1) * vectorDim) : null, vectorDim),
          );
          await table
            .mergeInsert('id')
            .whenMatchedUpdateAll()
            .whenNotMatchedInsertAll()
            .whenNotMatchedBySourceDelete({ where: staleWhere })
            .execute(lancedb.makeArrowTable(rows as unknown as Record<string, unknown>[], { schema }));
        } finally {
          table.close();
        }
        return null;
      } finally {
        jobs.delete(m.job);
      }
    }
    case 'release':
      jobs.delete(m.job);
      return null;
  }
}

parentPort?.on('message', (m: WorkerRequest & { id: number }) => {
  handle(m).then(
    (result) => parentPort!.postMessage({ id: m.id, ok: true, result }),
    (err: unknown) => {
      const code = err instanceof EngineError ? err.code : undefined;
      parentPort!.postMessage({ id: m.id, ok: false, ...(code ? { code } : {}), message: (err as Error).message });
    },
  );
});
