import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { EngineError } from '../errors.js';
import { type Chunk, chunkBlocks } from './chunk.js';
import { estimateTokens } from './estimate.js';
import { parseDocument } from './parse.js';

/**
 * Parsing, chunking and hashing a document: CPU work of up to seconds for a 20 MB upload. It runs on the document
 * worker thread (src/rag/doc-worker.ts), never on the event loop that paces call audio. Content comes either in
 * memory or as a file (uploads are streamed to a temp file, which the worker reads itself, so the main thread
 * never holds the document).
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

/** What the main thread learns about a prepared document (its chunks stay on the worker). */
export interface DocumentSummary {
  mime: string;
  characters: number;
  bytes: number;
  hash: string;
  chunks: number;
  /** Estimated embedding tokens over all chunks */
  tokens: number;
}

export function summarize(p: PreparedDocument): DocumentSummary {
  let tokens = 0;
  for (const c of p.chunks) tokens += estimateTokens(c.text);
  return { mime: p.mime, characters: p.characters, bytes: p.bytes, hash: p.hash, chunks: p.chunks.length, tokens };
}
