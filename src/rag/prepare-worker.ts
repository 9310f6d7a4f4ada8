import { parentPort } from 'node:worker_threads';
import { EngineError } from '../errors.js';
import { type PrepareInput, prepareDocument } from './prepare.js';

/** The document worker (src/rag/prepare.ts): one job at a time, in order; errors keep their EngineError code. */
parentPort?.on('message', async (m: { id: number; input: PrepareInput }) => {
  try {
    parentPort!.postMessage({ id: m.id, ok: true, result: await prepareDocument(m.input) });
  } catch (err) {
    const code = err instanceof EngineError ? err.code : undefined;
    parentPort!.postMessage({ id: m.id, ok: false, ...(code ? { code } : {}), message: (err as Error).message });
  }
});
