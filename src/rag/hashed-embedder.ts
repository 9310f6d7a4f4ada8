/**
 * A deterministic, in-process embedder: hashed bag of stemmed content words plus hashed character trigrams of each
 * word (so "deliveries" and "delivered" land near each other), L2-normalised. Lexical, not semantic: it exists so
 * the bench and tests can exercise the vector and hybrid paths with no model. Honest name on purpose. Words are
 * expanded with the synonym groups of text.ts on both sides (documents and queries).
 */
import type { EmbedProvider } from '../providers/types.js';
import { contentTerms, ftsQueryText } from './text.js';

/** FNV-1a, 32 bit */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function hashedEmbedding(text: string, dimensions: number, out = new Float32Array(dimensions)): Float32Array {
  out.fill(0);
  // The same synonym expansion as FTS queries, applied to both sides, stands in for a model's semantics.
  for (const term of contentTerms(ftsQueryText(text))) {
    const h = hash(term);
    out[h % dimensions]! += h & 0x80000000 ? -1 : 1;
    const padded = `^${term}$`;
    for (let i = 0; i + 3 <= padded.length; i++) {
      const g = hash(padded.slice(i, i + 3));
      out[g % dimensions]! += g & 0x80000000 ? -0.3 : 0.3;
    }
  }
  let norm = 0;
  for (let i = 0; i < dimensions; i++) norm += out[i]! * out[i]!;
  if (norm > 0) {
    const inv = 1 / Math.sqrt(norm);
    for (let i = 0; i < dimensions; i++) out[i]! *= inv;
  }
  return out;
}

export function createHashedEmbedder(dimensions = 256): EmbedProvider {
  return {
    id: 'hashed',
    model: `hashed-bow-${dimensions}`,
    dimensions,
    embed: async (texts) => texts.map((t) => hashedEmbedding(t, dimensions)),
  };
}
