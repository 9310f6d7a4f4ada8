/**
 * Knowledge base on LanceDB (issue 8): per-tenant collections of documents, structure-aware chunks, BM25 always,
 * vectors when an EmbedProvider is configured, hybrid retrieval fused by reciprocal rank.
 */
import { LanceKnowledgeBase } from './kb.js';
import { TableStore } from './store.js';
import type { KnowledgeBase, KnowledgeBaseOptions } from './types.js';

export { createHashedEmbedder } from './hashed-embedder.js';
export { createRetriever, type Retriever } from './retriever.js';
export type {
  DocumentFile,
  DocumentInfo,
  DocumentInput,
  Estimate,
  KnowledgeBase,
  KnowledgeBaseOptions,
  RetrievalEvent,
  SearchHit,
  SearchMode,
  SearchOptions,
} from './types.js';

export async function openKnowledgeBase(opts: KnowledgeBaseOptions): Promise<KnowledgeBase> {
  const store = await TableStore.open(opts.uri, opts.logger, {
    vectorDim: opts.embed?.dimensions,
    optimizeDelayMs: opts.optimizeDelayMs ?? 1000,
    vectorIndexMinRows: opts.vectorIndexMinRows ?? 10_000,
    readConsistencyS: opts.readConsistencyS ?? 1,
    ...(opts.storageOptions ? { storageOptions: opts.storageOptions } : {}),
  });
  return new LanceKnowledgeBase(store, opts);
}
