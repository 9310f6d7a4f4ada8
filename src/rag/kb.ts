/**
 * The knowledge base over TableStore: ingestion (parse -> chunk -> embed -> one atomic merge-insert), document and
 * collection listings, and retrieval (BM25, vector, or both fused by RRF).
 */
import { createHash } from 'node:crypto';
import { EngineError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EmbedProvider } from '../providers/types.js';
import { jobTexts, prepareJob, releaseJob, writeJob } from './doc-worker.js';
import { embeddingCostUsd } from './estimate.js';
import { rrfFuse } from './fuse.js';
import type { DocumentSummary } from './prepare.js';
import {
  DOC_COLUMNS,
  FTS_COLUMN,
  HIT_COLUMNS,
  sqlString,
  type TableStore,
  type TenantTable,
  VECTOR_COLUMN,
} from './store.js';
import { ftsQueryText } from './text.js';
import type {
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

const COLLECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const DOC_ID = /^doc_[0-9a-f]{16}$/;
const MAX_QUERY_CHARS = 2000;
const MAX_TOP_K = 50;
const MAX_CHUNKS_PER_DOCUMENT = 50_000;

export function assertCollectionName(name: string): void {
  if (!COLLECTION_NAME.test(name)) {
    throw new EngineError(
      'VALIDATION_FAILED',
      'A collection name is 1-64 characters: letters, digits, _ . - (not first)',
    );
  }
}

export class LanceKnowledgeBase implements KnowledgeBase {
  private readonly store: TableStore;
  private readonly embedder: EmbedProvider | undefined;
  private readonly logger: Logger;
  private readonly onRetrieval: ((e: RetrievalEvent) => void) | undefined;
  private readonly maxBytes: number;
  private readonly chunkOpts: { maxChars?: number; overlapChars?: number };
  private readonly embedBatch: number;

  constructor(store: TableStore, opts: KnowledgeBaseOptions) {
    this.store = store;
    this.embedder = opts.embed;
    this.logger = opts.logger;
    this.onRetrieval = opts.onRetrieval;
    this.maxBytes = opts.maxDocumentBytes ?? 20 * 2 ** 20;
    this.chunkOpts = { maxChars: opts.chunkChars, overlapChars: opts.overlapChars };
    this.embedBatch = Math.max(1, opts.embedBatch ?? 64);
  }

  /** Parse, chunk and hash on the document worker (src/rag/doc-worker.ts), then the cheap checks. */
  private async prepare(
    input: { content: Uint8Array | string | DocumentFile; mime?: string; name?: string },
    keep: boolean,
  ): Promise<{ job: number; summary: DocumentSummary }> {
    const c = input.content;
    const prepared = await prepareJob(
      {
        ...(typeof c === 'object' && 'file' in c ? { file: c.file } : { content: c }),
        mime: input.mime,
        name: input.name,
        maxBytes: this.maxBytes,
        chunk: this.chunkOpts,
      },
      keep,
    );
    const n = prepared.summary.chunks;
    const problem =
      n === 0
        ? new EngineError('VALIDATION_FAILED', 'The document contains no text')
        : n > MAX_CHUNKS_PER_DOCUMENT
          ? new EngineError(
              'PAYLOAD_TOO_LARGE',
              `The document makes ${n} chunks; the limit is ${MAX_CHUNKS_PER_DOCUMENT}`,
            )
          : undefined;
    if (problem) {
      if (keep) releaseJob(prepared.job);
      throw problem;
    }
    return prepared;
  }

  async estimate(input: {
    content: Uint8Array | string | DocumentFile;
    mime?: string;
    name?: string;
  }): Promise<Estimate> {
    const { summary } = await this.prepare(input, false);
    const { characters, tokens } = summary;
    const model = this.embedder?.model;
    return {
      characters,
      tokens,
      chunks: summary.chunks,
      embeddingModel: model,
      embeddingCostUsd: this.embedder ? embeddingCostUsd(model, tokens) : 0,
    };
  }

  async upsertDocument(
    tenantId: string,
    collection: string,
    doc: DocumentInput,
    onProgress?: (p: { chunksDone: number; chunksTotal: number }) => void,
  ): Promise<DocumentInfo> {
    assertCollectionName(collection);
    const name = doc.name.trim();
    if (!name || name.length > 256)
      throw new EngineError('VALIDATION_FAILED', 'A document needs a name of 1-256 characters');
    const metadata = doc.metadata ?? {};
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new EngineError('VALIDATION_FAILED', `metadata.${k} must be a string`);
    }
    // Everything that can fail on bad input or a provider happens before the first write.
    const { job, summary } = await this.prepare({ content: doc.content, mime: doc.mime, name }, true);
    const { mime, characters, bytes, hash } = summary;
    let written = false;
    try {
      onProgress?.({ chunksDone: 0, chunksTotal: summary.chunks });
      const vectors = this.embedder ? await this.embedChunks(job, summary.chunks, onProgress) : undefined;
      return await this.store.withLock(tenantId, async () => {
        const t = await this.store.getOrCreate(tenantId);
        const previous = await this.findExisting(t, collection, hash, name);
        const now = new Date().toISOString();
        const info: DocumentInfo = {
          id:
            previous?.id ??
            `doc_${createHash('sha256').update(`${collection}\u0000${hash}`).digest('hex').slice(0, 16)}`,
          collection,
          name,
          mime,
          hash,
          bytes,
          characters,
          chunks: summary.chunks,
          metadata,
          createdAt: previous?.createdAt ?? now,
          updatedAt: now,
        };
        // One commit, on the worker: insert/update this document's chunks and delete the ones the new version no
        // longer has. Vectors of another size than the table's (an embedder changed since) are left out.
        const vectorDim = t.vectorDim;
        written = true;
        await writeJob(
          job,
          {
            ...this.store.location(tenantId),
            info,
            ...(vectorDim ? { vectorDim } : {}),
            staleWhere: `collection = ${sqlString(collection)} AND doc_id = ${sqlString(info.id)}`,
          },
          vectors && vectorDim === this.embedder?.dimensions ? vectors : undefined,
        );
        await t.table.checkoutLatest();
        await this.store.ensureFtsIndex(t);
        this.store.scheduleOptimize(tenantId);
        onProgress?.({ chunksDone: summary.chunks, chunksTotal: summary.chunks });
        this.logger.info(
          { tenantId, collection, documentId: info.id, chunks: summary.chunks, replaced: Boolean(previous) },
          'rag: document indexed',
        );
        return info;
      });
    } finally {
      if (!written) releaseJob(job);
    }
  }

  /** Embeds a kept job's chunks a batch at a time; vectors packed row after row in one array. */
  private async embedChunks(
    job: number,
    total: number,
    onProgress?: (p: { chunksDone: number; chunksTotal: number }) => void,
  ): Promise<Float32Array> {
    const embedder = this.embedder!;
    const dim = embedder.dimensions;
    const out = new Float32Array(total * dim);
    for (let i = 0; i < total; i += this.embedBatch) {
      const batch = await jobTexts(job, i, Math.min(total, i + this.embedBatch));
      let vecs: Float32Array[];
      try {
        vecs = await embedder.embed(batch);
      } catch (err) {
        throw new EngineError('PROVIDER_ERROR', `Embedding with ${embedder.id} failed: ${(err as Error).message}`);
      }
      if (vecs.length !== batch.length || vecs.some((v) => v.length !== dim)) {
        throw new EngineError(
          'PROVIDER_ERROR',
          `Embedding with ${embedder.id} returned the wrong number or size of vectors`,
        );
      }
      for (let k = 0; k < vecs.length; k++) out.set(vecs[k]!, (i + k) * dim);
      onProgress?.({ chunksDone: i + vecs.length, chunksTotal: total });
    }
    return out;
  }

  private async findExisting(
    t: TenantTable,
    collection: string,
    hash: string,
    name: string,
  ): Promise<DocumentInfo | undefined> {
    const rows = await t.table
      .query()
      .where(
        `collection = ${sqlString(collection)} AND chunk_index = 0 AND (doc_hash = ${sqlString(hash)} OR doc_name = ${sqlString(name)})`,
      )
      .select(DOC_COLUMNS)
      .toArray();
    const docs = rows.map(toDocumentInfo);
    return docs.find((d) => d.hash === hash) ?? docs[0];
  }

  async listDocuments(tenantId: string, collection: string): Promise<DocumentInfo[]> {
    assertCollectionName(collection);
    const t = await this.store.get(tenantId);
    if (!t) return [];
    const rows = await t.table
      .query()
      .where(`collection = ${sqlString(collection)} AND chunk_index = 0`)
      .select(DOC_COLUMNS)
      .toArray();
    return rows
      .map(toDocumentInfo)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
  }

  async getDocument(tenantId: string, collection: string, id: string): Promise<DocumentInfo | undefined> {
    assertCollectionName(collection);
    if (!DOC_ID.test(id)) return undefined;
    const t = await this.store.get(tenantId);
    if (!t) return undefined;
    const rows = await t.table
      .query()
      .where(`collection = ${sqlString(collection)} AND doc_id = ${sqlString(id)} AND chunk_index = 0`)
      .select(DOC_COLUMNS)
      .limit(1)
      .toArray();
    return rows[0] ? toDocumentInfo(rows[0]) : undefined;
  }

  async deleteDocument(tenantId: string, collection: string, id: string): Promise<boolean> {
    assertCollectionName(collection);
    if (!DOC_ID.test(id)) return false;
    const t = await this.store.get(tenantId);
    if (!t) return false;
    const filter = `collection = ${sqlString(collection)} AND doc_id = ${sqlString(id)}`;
    return this.store.withLock(tenantId, async () => {
      if ((await t.table.countRows(filter)) === 0) return false;
      await t.table.delete(filter);
      this.store.scheduleOptimize(tenantId);
      this.logger.info({ tenantId, collection, documentId: id }, 'rag: document deleted');
      return true;
    });
  }

  async listCollections(tenantId: string): Promise<Array<{ name: string; documents: number; chunks: number }>> {
    const t = await this.store.get(tenantId);
    if (!t) return [];
    const rows = await t.table.query().where('chunk_index = 0').select(['collection', 'doc_chunks']).toArray();
    const acc = new Map<string, { name: string; documents: number; chunks: number }>();
    for (const r of rows as { collection: string; doc_chunks: number }[]) {
      const c = acc.get(r.collection) ?? { name: r.collection, documents: 0, chunks: 0 };
      c.documents++;
      c.chunks += Number(r.doc_chunks);
      acc.set(r.collection, c);
    }
    return [...acc.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async search(
    tenantId: string,
    collections: string | string[],
    query: string,
    opts: SearchOptions = {},
  ): Promise<SearchHit[]> {
    const started = performance.now();
    const names = [...new Set(Array.isArray(collections) ? collections : [collections])];
    if (names.length === 0) throw new EngineError('VALIDATION_FAILED', 'Search needs at least one collection');
    for (const c of names) assertCollectionName(c);
    const q = query.trim();
    if (!q) throw new EngineError('VALIDATION_FAILED', 'The query is empty');
    if (q.length > MAX_QUERY_CHARS)
      throw new EngineError('VALIDATION_FAILED', `The query is longer than ${MAX_QUERY_CHARS} characters`);
    const topK = Math.min(Math.max(1, Math.floor(opts.topK ?? 5)), MAX_TOP_K);
    const requested: SearchMode = opts.mode ?? 'auto';
    if ((requested === 'vector' || requested === 'hybrid') && !this.embedder) {
      throw new EngineError(
        'UNPROCESSABLE',
        `Search mode '${requested}' needs an embedding provider; none is configured`,
      );
    }
    const t = await this.store.get(tenantId);
    const vectorsUsable = Boolean(this.embedder && t?.vectorDim === this.embedder.dimensions);
    const mode: Exclude<SearchMode, 'auto'> =
      requested === 'auto'
        ? vectorsUsable
          ? 'hybrid'
          : 'fts'
        : vectorsUsable || requested === 'fts'
          ? requested
          : 'fts';
    let hits: SearchHit[] = [];
    if (t) {
      const where =
        names.length === 1
          ? `collection = ${sqlString(names[0]!)}`
          : `collection IN (${names.map(sqlString).join(', ')})`;
      if (mode === 'fts') hits = await this.ftsSearch(t, where, q, topK);
      else if (mode === 'vector') hits = await this.vectorSearch(t, where, q, topK);
      else {
        const depth = Math.max(topK * 3, 10);
        const [fts, vec] = await Promise.all([
          this.ftsSearch(t, where, q, depth),
          this.vectorSearch(t, where, q, depth),
        ]);
        hits = rrfFuse([fts, vec], (h) => `${h.collection}\u0000${h.documentId}\u0000${h.chunkIndex}`)
          .slice(0, topK)
          .map(({ item, score }) => ({ ...item, score }));
      }
      if (opts.scoreThreshold !== undefined) hits = hits.filter((h) => h.score >= opts.scoreThreshold!);
    }
    if (this.embedder && t && !vectorsUsable) this.warnNoVectors(tenantId, t.vectorDim);
    const event: RetrievalEvent = {
      tenantId,
      collections: names,
      query: q,
      hits: hits.length,
      topScore: hits[0]?.score,
      ms: performance.now() - started,
      mode,
      ...(opts.prefetch ? { prefetch: true } : {}),
    };
    this.logger.debug(event, 'rag: retrieval');
    this.onRetrieval?.(event);
    return hits;
  }

  private readonly warnedNoVectors = new Set<string>();

  /** Once per tenant: the table predates the embedder (or another model's size), so retrieval stays full-text. */
  private warnNoVectors(tenantId: string, tableDim: number | undefined): void {
    if (this.warnedNoVectors.has(tenantId)) return;
    this.warnedNoVectors.add(tenantId);
    this.logger.warn(
      { tenantId, tableDim, embedderDim: this.embedder?.dimensions },
      'rag: this knowledge base has no vectors of the configured embedder size; searching full-text only (re-create the collections to add vectors)',
    );
  }

  private async ftsSearch(t: TenantTable, where: string, query: string, limit: number): Promise<SearchHit[]> {
    const text = ftsQueryText(query);
    if (!text) return [];
    const rows = await t.table
      .query()
      .fullTextSearch(text, { columns: FTS_COLUMN })
      .where(where)
      .select([...HIT_COLUMNS, '_score'])
      .limit(limit)
      .toArray();
    return rows.map((r: Record<string, unknown>) => toHit(r, Number(r._score)));
  }

  private async vectorSearch(t: TenantTable, where: string, query: string, limit: number): Promise<SearchHit[]> {
    let vec: Float32Array | undefined;
    try {
      [vec] = await this.embedder!.embed([query]);
    } catch (err) {
      throw new EngineError(
        'PROVIDER_ERROR',
        `Embedding the query with ${this.embedder!.id} failed: ${(err as Error).message}`,
      );
    }
    if (!vec) return [];
    const rows = await t.table
      .query()
      .nearestTo(vec)
      .column(VECTOR_COLUMN)
      .distanceType('cosine')
      // With an IVF-PQ index (large tables), re-rank 5x the candidates on full vectors: PQ alone loses recall.
      .refineFactor(5)
      .where(where)
      .select([...HIT_COLUMNS, '_distance'])
      .limit(limit)
      .toArray();
    // Rows written without a vector (before an embedder was configured) have a null distance: skip them.
    return rows
      .filter((r: Record<string, unknown>) => r._distance !== null && r._distance !== undefined)
      .map((r: Record<string, unknown>) => toHit(r, 1 - Number(r._distance)));
  }

  flush(): Promise<void> {
    return this.store.flush();
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

function toDocumentInfo(r: Record<string, unknown>): DocumentInfo {
  let metadata: Record<string, string> = {};
  try {
    metadata = JSON.parse(String(r.doc_meta)) as Record<string, string>;
  } catch {
    // Written by us; unreadable only if edited by hand.
  }
  return {
    id: String(r.doc_id),
    collection: String(r.collection),
    name: String(r.doc_name),
    mime: String(r.doc_mime),
    hash: String(r.doc_hash),
    bytes: Number(r.doc_bytes),
    characters: Number(r.doc_chars),
    chunks: Number(r.doc_chunks),
    metadata,
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
  };
}

function toHit(r: Record<string, unknown>, score: number): SearchHit {
  return {
    text: String(r.text),
    score,
    documentId: String(r.doc_id),
    documentName: String(r.doc_name),
    collection: String(r.collection),
    chunkIndex: Number(r.chunk_index),
    offsets: { start: Number(r.char_start), end: Number(r.char_end) },
    section: String(r.section),
  };
}
