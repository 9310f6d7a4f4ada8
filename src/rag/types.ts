import type { Logger } from '../log.js';
import type { EmbedProvider } from '../providers/types.js';

export type SearchMode = 'fts' | 'vector' | 'hybrid' | 'auto';

export interface DocumentInfo {
  /** doc_… , stable across re-uploads of the same document */
  id: string;
  collection: string;
  name: string;
  mime: string;
  /** sha256 of the uploaded bytes, hex */
  hash: string;
  bytes: number;
  characters: number;
  chunks: number;
  metadata: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

export interface SearchHit {
  text: string;
  /** fts: BM25; vector: cosine similarity; hybrid: reciprocal-rank fusion normalised to 0..1 */
  score: number;
  documentId: string;
  documentName: string;
  collection: string;
  chunkIndex: number;
  /** Character offsets of the chunk in the document text (UTF-16 code units) */
  offsets: { start: number; end: number };
  /** Heading path or FAQ pair id */
  section: string;
}

export interface DocumentInput {
  name: string;
  mime?: string;
  content: Uint8Array | string | DocumentFile;
  metadata?: Record<string, string>;
}

/** Content streamed to a file (uploads): the document worker reads it, the event loop never holds it. */
export interface DocumentFile {
  file: string;
}

export interface SearchOptions {
  topK?: number;
  scoreThreshold?: number;
  mode?: SearchMode;
  /** Marks retrievals run ahead of the final user turn (ASR partials), so analytics can tell them apart. */
  prefetch?: boolean;
}

export interface RetrievalEvent {
  tenantId: string;
  collections: string[];
  query: string;
  hits: number;
  topScore?: number;
  ms: number;
  mode: string;
  prefetch?: boolean;
}

export interface Estimate {
  characters: number;
  tokens: number;
  chunks: number;
  embeddingModel?: string;
  embeddingCostUsd: number;
}

export interface KnowledgeBase {
  /** Re-upload of the same content hash (or the same name) replaces, never duplicates; a failed upload changes nothing. */
  upsertDocument(
    tenantId: string,
    collection: string,
    doc: DocumentInput,
    onProgress?: (p: { chunksDone: number; chunksTotal: number }) => void,
  ): Promise<DocumentInfo>;
  listDocuments(tenantId: string, collection: string): Promise<DocumentInfo[]>;
  getDocument(tenantId: string, collection: string, id: string): Promise<DocumentInfo | undefined>;
  /** Removes every chunk of the document; false when there was no such document. */
  deleteDocument(tenantId: string, collection: string, id: string): Promise<boolean>;
  listCollections(tenantId: string): Promise<Array<{ name: string; documents: number; chunks: number }>>;
  search(tenantId: string, collections: string | string[], query: string, opts?: SearchOptions): Promise<SearchHit[]>;
  estimate(input: { content: Uint8Array | string | DocumentFile; mime?: string; name?: string }): Promise<Estimate>;
  /** Runs pending index maintenance (compaction, index update) now instead of after the debounce delay. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface KnowledgeBaseOptions {
  /** Local directory (DATA_DIR/lancedb) or an object-store URI (s3://…), passed unchanged to lancedb.connect */
  uri: string;
  /** LanceDB storage options for an object-store URI (credentials, endpoint: src/storage/knowledge.ts). */
  storageOptions?: Record<string, string>;
  /** undefined: full-text search only */
  embed?: EmbedProvider;
  logger: Logger;
  onRetrieval?: (e: RetrievalEvent) => void;
  /** Upload limit, bytes. Default 20 MiB. */
  maxDocumentBytes?: number;
  /** Chunk size and overlap, characters. */
  chunkChars?: number;
  overlapChars?: number;
  /** Texts per embeddings request. Default 64. */
  embedBatch?: number;
  /** Background index maintenance delay after the last write, ms. Default 1000. */
  optimizeDelayMs?: number;
  /** How stale a read may be with respect to other processes' writes, seconds. Default 1. */
  readConsistencyS?: number;
  /**
   * Build an IVF-PQ vector index once a tenant's table has this many chunks. Default 10,000: below it flat search
   * is exact and fast enough; at 10k chunks x 256 dims the index halves vector latency (bench/rag.ts), and
   * refineFactor keeps recall equal to flat search on the FAQ fixture.
   */
  vectorIndexMinRows?: number;
}
