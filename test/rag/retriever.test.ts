import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { createRetriever, type KnowledgeBase, openKnowledgeBase, type RetrievalEvent } from '../../src/rag/index.js';
import { faqFixture, tempDir } from './helpers.js';

describe('createRetriever (per-call retrieval)', () => {
  let kb: KnowledgeBase;
  let cleanup: () => Promise<void>;
  const events: RetrievalEvent[] = [];

  beforeAll(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    kb = await openKnowledgeBase({ uri: t.dir, logger: silentLogger, onRetrieval: (e) => events.push(e) });
    await kb.upsertDocument('t1', 'faq', { name: 'faq.csv', content: faqFixture().csv });
    await kb.upsertDocument('t2', 'faq', { name: 'other.txt', content: 'Other tenant: we open at midnight.' });
  });
  afterAll(async () => {
    await kb.close();
    await cleanup();
  });

  /** Waits (up to 10 s) until a retrieval for `query` has been logged: prefetches are real LanceDB queries. */
  const settled = async (query: string) => {
    for (let i = 0; i < 1000 && !events.some((e) => e.query === query); i++)
      await new Promise((r) => setTimeout(r, 10));
  };

  it('returns KnowledgeHits for the call, honouring topK and the tenant', async () => {
    const r = createRetriever(kb, 't1', { collections: ['faq'], topK: 2 });
    const hits = await r.search('when do you open');
    expect(hits).toHaveLength(2);
    expect(hits[0]!.text).toContain('Monday to Friday from 9 am to 7 pm');
    expect(hits[0]!.source).toBe('faq.csv › hours');
    expect(hits.every((h) => !h.text.includes('Other tenant'))).toBe(true);
  });

  it('reuses a prefetch on a partial when the final transcript has the same content terms', async () => {
    events.length = 0;
    const r = createRetriever(kb, 't1', { collections: ['faq'], topK: 3 });
    r.prefetch('what are your opening hours');
    await settled('what are your opening hours');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ prefetch: true, tenantId: 't1' });
    const hits = await r.search('What are your opening hours?');
    expect(events).toHaveLength(1); // no second query: the prefetch answered it
    expect(r.stats).toMatchObject({ searches: 1, cacheHits: 1, prefetches: 1 });
    expect(hits[0]!.source).toContain('hours');
  });

  it('coalesces a burst of partials into at most two queries, and runs a fresh search when the final differs', async () => {
    events.length = 0;
    const r = createRetriever(kb, 't1', { collections: ['faq'], topK: 3 });
    const partials = ['how', 'how much', 'how much does', 'how much does shipping', 'how much does shipping cost'];
    for (const p of partials) r.prefetch(p);
    await settled('how much does shipping cost');
    // The first partial has no content word; the second starts a query; the rest collapse into one follow-up.
    expect(events.length).toBeLessThanOrEqual(2);
    expect(events[events.length - 1]!.query).toBe('how much does shipping cost');
    const before = events.length;
    await r.search('how much does shipping cost');
    expect(events.length).toBe(before);
    await r.search('do you rent kayaks');
    expect(events.length).toBe(before + 1);
    expect(events[events.length - 1]!.prefetch).toBeUndefined();
  });

  it('returns nothing without collections or content words, and never throws for prefetch', async () => {
    const none = createRetriever(kb, 't1', undefined);
    expect(await none.search('when do you open')).toEqual([]);
    none.prefetch('when do you open');
    const r = createRetriever(kb, 't1', { collections: ['faq'] });
    expect(await r.search('um, okay')).toEqual([]);
    const bad = createRetriever(kb, 't1', { collections: ['not a valid name!'] });
    bad.prefetch('opening hours');
    await expect(bad.search('opening hours')).rejects.toThrow(/collection name/);
  });
});
