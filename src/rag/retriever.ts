/**
 * Per-call retrieval for the call session. Automatic mode prefetches on ASR partials so that retrieval runs while
 * endpointing is still deciding whether the caller has finished; the final transcript reuses a prefetched result
 * when its content terms match (Jaccard >= 0.8 over stemmed non-stopwords: "what are your opening" and "what are
 * your opening hours please" differ by one term in five). Results are cached for the whole call.
 */
import type { RagConfig } from '../assistant.js';
import type { KnowledgeHit } from '../providers/types.js';
import { contentTerms } from './text.js';
import type { KnowledgeBase, SearchHit } from './types.js';

export interface Retriever {
  search(query: string): Promise<KnowledgeHit[]>;
  /** Fire and forget; at most one prefetch in flight, later partials coalesce into the next one. */
  prefetch(partialQuery: string): void;
  /** Counters for the call's metrics. */
  readonly stats: { searches: number; cacheHits: number; prefetches: number };
}

const CACHE_ENTRIES = 32;
const REUSE_JACCARD = 0.8;

interface Entry {
  terms: Set<string>;
  result: Promise<SearchHit[]>;
}

export function createRetriever(kb: KnowledgeBase, tenantId: string, rag: RagConfig | undefined): Retriever {
  const collections = rag?.collections ?? [];
  const topK = rag?.topK ?? 3;
  const cache = new Map<string, Entry>();
  const stats = { searches: 0, cacheHits: 0, prefetches: 0 };
  let inflight = false;
  let pending: string | undefined;

  const keyOf = (terms: string[]) => [...new Set(terms)].sort().join(' ');

  const run = (key: string, terms: string[], query: string, prefetch: boolean): Entry => {
    const entry: Entry = {
      terms: new Set(terms),
      result: kb.search(tenantId, collections, query, {
        topK,
        scoreThreshold: rag?.scoreThreshold,
        mode: 'auto',
        prefetch,
      }),
    };
    // A failed retrieval is not cached: the next turn tries again.
    entry.result.catch(() => {
      if (cache.get(key) === entry) cache.delete(key);
    });
    cache.set(key, entry);
    if (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
    return entry;
  };

  const findReusable = (key: string, terms: string[]): Entry | undefined => {
    const exact = cache.get(key);
    if (exact) return exact;
    const set = new Set(terms);
    let best: Entry | undefined;
    let bestJ = 0;
    for (const e of cache.values()) {
      let inter = 0;
      for (const t of set) if (e.terms.has(t)) inter++;
      const j = inter / (set.size + e.terms.size - inter);
      if (j >= REUSE_JACCARD && j > bestJ) {
        best = e;
        bestJ = j;
      }
    }
    return best;
  };

  const startPrefetch = (partial: string) => {
    const terms = contentTerms(partial);
    if (terms.length === 0) return;
    const key = keyOf(terms);
    if (cache.has(key)) return;
    inflight = true;
    stats.prefetches++;
    const done = () => {
      inflight = false;
      const next = pending;
      pending = undefined;
      if (next !== undefined) startPrefetch(next);
    };
    run(key, terms, partial, true).result.then(done, done);
  };

  return {
    stats,
    async search(query: string): Promise<KnowledgeHit[]> {
      const terms = contentTerms(query);
      if (collections.length === 0 || terms.length === 0) return [];
      stats.searches++;
      const key = keyOf(terms);
      let entry = findReusable(key, terms);
      if (entry) stats.cacheHits++;
      else entry = run(key, terms, query, false);
      const hits = await entry.result;
      return hits.map((h) => ({
        text: h.text,
        score: h.score,
        source: h.section ? `${h.documentName} › ${h.section}` : h.documentName,
      }));
    },
    prefetch(partialQuery: string): void {
      if (collections.length === 0) return;
      if (inflight) {
        pending = partialQuery;
        return;
      }
      startPrefetch(partialQuery);
    },
  };
}
