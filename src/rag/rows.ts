import type { Chunk } from './chunk.js';
import type { ChunkRow } from './store.js';
import type { DocumentInfo } from './types.js';

/** What gets embedded and indexed: the heading path gives a continuation chunk its context. */
export function embedText(c: Chunk): string {
  return c.heading && !c.text.startsWith(c.heading) ? `${c.heading}\n${c.text}` : c.text;
}

/** One table row per chunk; the document's fields ride on every row (src/rag/store.ts). */
export function toRow(
  info: DocumentInfo,
  c: Chunk,
  vector: Float32Array | null | undefined,
  vectorDim: number | undefined,
): ChunkRow {
  const row: ChunkRow = {
    id: `${info.collection}/${info.id}/${c.index}`,
    collection: info.collection,
    doc_id: info.id,
    doc_name: info.name,
    doc_mime: info.mime,
    doc_hash: info.hash,
    doc_bytes: info.bytes,
    doc_chars: info.characters,
    doc_chunks: info.chunks,
    doc_meta: JSON.stringify(info.metadata),
    created_at: info.createdAt,
    updated_at: info.updatedAt,
    chunk_index: c.index,
    char_start: c.start,
    char_end: c.end,
    section: c.section,
    text: c.text,
    fts: embedText(c),
  };
  if (vectorDim) row.vector = vector ?? null;
  return row;
}
