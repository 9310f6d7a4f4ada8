/**
 * LanceDB layout: one table per tenant (`kb_<sha256(tenant)[:32]>`), so no query can reach another tenant's rows;
 * collections are a column filtered in every query. One row per chunk; document fields ride on every chunk row so
 * that an upload is a single atomic commit (merge-insert that also deletes the document's stale chunks), and the
 * chunk_index = 0 row stands for the document in listings.
 *
 * Index maintenance: the BM25 index is built on the first write; later writes schedule one debounced optimize()
 * (compaction + incremental index update + version cleanup) per tenant, in the background and never per query.
 * Rows written since the last optimize are still searched (flat scan of unindexed fragments).
 */
import { createHash } from 'node:crypto';
import * as lancedb from '@lancedb/lancedb';
import { Field, FixedSizeList, Float32, Int32, Schema, Utf8 } from 'apache-arrow';
import type { Logger } from '../log.js';

export const FTS_COLUMN = 'fts';
export const VECTOR_COLUMN = 'vector';

export interface ChunkRow {
  id: string;
  collection: string;
  doc_id: string;
  doc_name: string;
  doc_mime: string;
  doc_hash: string;
  doc_bytes: number;
  doc_chars: number;
  doc_chunks: number;
  doc_meta: string;
  created_at: string;
  updated_at: string;
  chunk_index: number;
  char_start: number;
  char_end: number;
  section: string;
  text: string;
  /** section + text: what BM25 indexes */
  fts: string;
  vector?: Float32Array | null;
}

export const DOC_COLUMNS = [
  'collection',
  'doc_id',
  'doc_name',
  'doc_mime',
  'doc_hash',
  'doc_bytes',
  'doc_chars',
  'doc_chunks',
  'doc_meta',
  'created_at',
  'updated_at',
];
export const HIT_COLUMNS = [
  'id',
  'collection',
  'doc_id',
  'doc_name',
  'chunk_index',
  'char_start',
  'char_end',
  'section',
  'text',
];

function schemaFor(vectorDim: number | undefined): Schema {
  const s = (n: string) => new Field(n, new Utf8(), false);
  const i = (n: string) => new Field(n, new Int32(), false);
  const fields: Field[] = [
    s('id'),
    s('collection'),
    s('doc_id'),
    s('doc_name'),
    s('doc_mime'),
    s('doc_hash'),
    i('doc_bytes'),
    i('doc_chars'),
    i('doc_chunks'),
    s('doc_meta'),
    s('created_at'),
    s('updated_at'),
    i('chunk_index'),
    i('char_start'),
    i('char_end'),
    s('section'),
    s('text'),
    s(FTS_COLUMN),
  ];
  if (vectorDim)
    fields.push(new Field(VECTOR_COLUMN, new FixedSizeList(vectorDim, new Field('item', new Float32(), true)), true));
  return new Schema(fields);
}

/** SQL string literal for LanceDB filters (DataFusion SQL). */
export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

export interface TenantTable {
  table: lancedb.Table;
  schema: Schema;
  /** Dimension of the vector column, when the table has one */
  vectorDim?: number;
}

export class TableStore {
  private readonly db: lancedb.Connection;
  private readonly uri: string;
  private readonly storageOptions: Record<string, string> | undefined;
  private readonly logger: Logger;
  private readonly vectorDim: number | undefined;
  private readonly optimizeDelayMs: number;
  private readonly vectorIndexMinRows: number;
  private readonly handles = new Map<string, Promise<TenantTable | undefined>>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private closed = false;

  private constructor(
    db: lancedb.Connection,
    uri: string,
    logger: Logger,
    opts: {
      vectorDim?: number;
      optimizeDelayMs: number;
      vectorIndexMinRows: number;
      storageOptions?: Record<string, string>;
    },
  ) {
    this.db = db;
    this.uri = uri;
    this.storageOptions = opts.storageOptions;
    this.logger = logger;
    this.vectorDim = opts.vectorDim;
    this.optimizeDelayMs = opts.optimizeDelayMs;
    this.vectorIndexMinRows = opts.vectorIndexMinRows;
  }

  static async open(
    uri: string,
    logger: Logger,
    opts: {
      vectorDim?: number;
      optimizeDelayMs: number;
      vectorIndexMinRows: number;
      readConsistencyS: number;
      storageOptions?: Record<string, string>;
    },
  ): Promise<TableStore> {
    // Several engine processes may share one store (DESIGN.md 9): re-check a table for other writers' commits at
    // most every readConsistencyS seconds (one version check, not one per query).
    const db = await lancedb.connect(uri, {
      readConsistencyInterval: opts.readConsistencyS,
      ...(opts.storageOptions ? { storageOptions: opts.storageOptions } : {}),
    });
    return new TableStore(db, uri, logger, opts);
  }

  /** Where a tenant's table lives, for the document worker's own connection (src/rag/doc-worker.ts). */
  location(tenantId: string): { uri: string; table: string; storageOptions?: Record<string, string> } {
    const o = this.storageOptions;
    return { uri: this.uri, table: this.tableName(tenantId), ...(o ? { storageOptions: o } : {}) };
  }

  tableName(tenantId: string): string {
    return `kb_${createHash('sha256').update(tenantId).digest('hex').slice(0, 32)}`;
  }

  /** The tenant's table, or undefined when it has never been written (absence is not cached: another process may create it). */
  async get(tenantId: string): Promise<TenantTable | undefined> {
    const cached = this.handles.get(tenantId);
    if (cached) {
      const t = await cached;
      if (t) return t;
    }
    const p = this.openExisting(tenantId);
    this.handles.set(tenantId, p);
    const t = await p;
    if (!t) this.handles.delete(tenantId);
    return t;
  }

  private async openExisting(tenantId: string): Promise<TenantTable | undefined> {
    let table: lancedb.Table;
    try {
      table = await this.db.openTable(this.tableName(tenantId));
    } catch (err) {
      if (/not found|does not exist/i.test((err as Error).message)) return undefined;
      throw err;
    }
    return describe(table);
  }

  /** Open or create; only called under the tenant's write lock. */
  async getOrCreate(tenantId: string): Promise<TenantTable> {
    const existing = await this.get(tenantId);
    if (existing) return existing;
    const table = await this.db.createEmptyTable(this.tableName(tenantId), schemaFor(this.vectorDim), {
      existOk: true,
    });
    const t = await describe(table);
    this.handles.set(tenantId, Promise.resolve(t));
    return t;
  }

  /** Serialise writes per tenant: LanceDB commits are optimistic and one writer per table avoids conflicts. */
  withLock<T>(tenantId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(tenantId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(tenantId, tail);
    void tail.then(() => {
      if (this.locks.get(tenantId) === tail) this.locks.delete(tenantId);
    });
    return run;
  }

  /**
   * After the first write: the BM25 index (stemming and stopwords to match the query processing in text.ts), and
   * scalar indices for the filters every query and write uses (collection: few distinct values -> bitmap; doc_id:
   * many -> btree).
   */
  async ensureFtsIndex(t: TenantTable): Promise<void> {
    const indices = await t.table.listIndices();
    const has = (col: string) => indices.some((i) => i.columns.includes(col));
    if (!has(FTS_COLUMN)) {
      await t.table.createIndex(FTS_COLUMN, {
        config: lancedb.Index.fts({
          language: 'English',
          stem: true,
          removeStopWords: true,
          lowercase: true,
          asciiFolding: true,
          withPosition: false,
        }),
      });
    }
    if (!has('collection')) await t.table.createIndex('collection', { config: lancedb.Index.bitmap() });
    if (!has('doc_id')) await t.table.createIndex('doc_id', { config: lancedb.Index.btree() });
  }

  /** Debounced background maintenance after writes. */
  scheduleOptimize(tenantId: string): void {
    if (this.closed) return;
    const prev = this.timers.get(tenantId);
    if (prev) clearTimeout(prev);
    const timer = setTimeout(() => {
      this.timers.delete(tenantId);
      void this.optimizeNow(tenantId).catch((err: unknown) =>
        this.logger.warn({ err, tenantId }, 'rag: index maintenance failed'),
      );
    }, this.optimizeDelayMs);
    timer.unref();
    this.timers.set(tenantId, timer);
  }

  optimizeNow(tenantId: string): Promise<void> {
    return this.withLock(tenantId, async () => {
      const t = await this.get(tenantId);
      if (!t) return;
      await this.ensureFtsIndex(t);
      await t.table.optimize();
      if (t.vectorDim && (await t.table.countRows()) >= this.vectorIndexMinRows) {
        const indices = await t.table.listIndices();
        if (!indices.some((i) => i.columns.includes(VECTOR_COLUMN))) {
          await t.table.createIndex(VECTOR_COLUMN, { config: lancedb.Index.ivfPq({ distanceType: 'cosine' }) });
          this.logger.info({ tenantId }, 'rag: built the vector index');
        }
      }
    });
  }

  /** Runs the maintenance that writes have scheduled, now, and waits for it. */
  async flush(): Promise<void> {
    const pending = [...this.timers.keys()];
    for (const tenantId of pending) {
      clearTimeout(this.timers.get(tenantId));
      this.timers.delete(tenantId);
      await this.optimizeNow(tenantId);
    }
  }

  /** Runs pending maintenance now, then releases the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending = [...this.timers.keys()];
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const tenantId of pending) {
      await this.optimizeNow(tenantId).catch((err: unknown) =>
        this.logger.warn({ err, tenantId }, 'rag: index maintenance failed'),
      );
    }
    await Promise.all([...this.locks.values()]);
    for (const h of this.handles.values()) (await h.catch(() => undefined))?.table.close();
    this.handles.clear();
    this.db.close();
  }
}

async function describe(table: lancedb.Table): Promise<TenantTable> {
  const schema = (await table.schema()) as unknown as Schema;
  const v = schema.fields.find((f) => f.name === VECTOR_COLUMN);
  // Duck-typed: the schema may come from another copy of apache-arrow than ours.
  const vectorDim = v ? (v.type as { listSize?: number }).listSize : undefined;
  return { table, schema, vectorDim };
}
