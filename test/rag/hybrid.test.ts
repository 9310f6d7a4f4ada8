import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenAiFake, startOpenAiFake } from '../../bench/fakes/openai.js';
import { EngineError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { OpenAiEmbed } from '../../src/providers/embed/openai.js';
import { type KnowledgeBase, openKnowledgeBase, type RetrievalEvent } from '../../src/rag/index.js';
import { faqFixture, tempDir } from './helpers.js';

/**
 * Hybrid retrieval through a loopback fake of OpenAI's /v1/embeddings (bench/fakes/openai.ts: hashed bag-of-words
 * vectors) with the engine's OpenAI embed provider (src/providers/embed/openai.ts, the real openai SDK).
 */
describe('hybrid retrieval with embeddings from a loopback OpenAI fake', () => {
  let fake: OpenAiFake;
  let kb: KnowledgeBase;
  let cleanup: () => Promise<void>;
  const events: RetrievalEvent[] = [];
  const { csv, questions } = faqFixture();

  beforeAll(async () => {
    fake = await startOpenAiFake({ apiKey: 'sk-test' });
    const t = await tempDir();
    cleanup = t.cleanup;
    kb = await openKnowledgeBase({
      uri: t.dir,
      logger: silentLogger,
      embed: new OpenAiEmbed({
        baseURL: `${fake.url}/v1`,
        apiKey: 'sk-test',
        model: 'text-embedding-3-small',
        dimensions: 256,
      }),
      embedBatch: 20,
      onRetrieval: (e) => events.push(e),
    });
    await kb.upsertDocument('t1', 'faq', { name: 'faq.csv', content: csv });
  });
  afterAll(async () => {
    await kb.close();
    await fake.close();
    await cleanup();
  });

  it('embeds chunks in batches over the wire', () => {
    const calls = fake.requests.filter((r) => r.path === '/v1/embeddings');
    expect(calls).toHaveLength(3); // 56 chunks in batches of 20
    const body = JSON.parse(calls[0]!.body!) as { input: string[]; model: string; dimensions: number };
    expect(body).toMatchObject({ model: 'text-embedding-3-small', dimensions: 256 });
    expect(body.input).toHaveLength(20);
    expect(body.input[0]).toMatch(/^Q: What are your opening hours\?\nA: Our store/);
  });

  it('auto mode runs hybrid (vector + BM25 fused by RRF) and scores read 0..1', async () => {
    const hits = await kb.search('t1', 'faq', 'can I track my parcel online', { topK: 3 });
    expect(events[events.length - 1]?.mode).toBe('hybrid');
    expect(hits.map((h) => h.section)).toContain('tracking');
    for (const h of hits) expect(h.score).toBeGreaterThan(0);
    for (const h of hits) expect(h.score).toBeLessThanOrEqual(1);
    expect(hits.map((h) => h.score)).toEqual([...hits.map((h) => h.score)].sort((a, b) => b - a));
  });

  it('vector mode alone ranks by cosine similarity', async () => {
    const hits = await kb.search('t1', 'faq', 'What are your opening hours?', { topK: 2, mode: 'vector' });
    expect(hits[0]?.section).toBe('hours');
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    expect(hits[0]!.score).toBeLessThanOrEqual(1.0001);
  });

  it('recall@3 on the paraphrased FAQ questions, per mode', async () => {
    const recall = async (mode: 'fts' | 'vector' | 'hybrid') => {
      let at3 = 0;
      for (const { q, id } of questions)
        if ((await kb.search('t1', 'faq', q, { topK: 3, mode })).some((h) => h.section === id)) at3++;
      return at3 / questions.length;
    };
    const r = { fts: await recall('fts'), vector: await recall('vector'), hybrid: await recall('hybrid') };
    console.log(
      `FAQ fixture recall@3 with the OpenAI fake's embeddings: fts ${r.fts.toFixed(3)} vector ${r.vector.toFixed(3)} hybrid ${r.hybrid.toFixed(3)}`,
    );
    // The fake's vectors are a raw bag of words (no stemming, no synonyms): weak alone, and fusing them with BM25
    // must lift them well above the vector list on its own. test/rag/kb.test.ts checks hybrid with a better embedder.
    expect(r.fts).toBeGreaterThanOrEqual(0.8);
    expect(r.hybrid).toBeGreaterThanOrEqual(0.7);
    expect(r.hybrid).toBeGreaterThan(r.vector + 0.2);
  });

  it('an embeddings outage during search is a PROVIDER_ERROR, and the next search works', async () => {
    fake.faults.push('server_error');
    const err = await kb.search('t1', 'faq', 'parking', { mode: 'hybrid' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('PROVIDER_ERROR');
    expect((await kb.search('t1', 'faq', 'parking', { topK: 1 }))[0]?.section).toBe('parking');
  });

  it('estimates the embedding cost with the configured model', async () => {
    const est = await kb.estimate({ content: csv, name: 'faq.csv' });
    expect(est.embeddingModel).toBe('text-embedding-3-small');
    expect(est.embeddingCostUsd).toBeCloseTo((est.tokens * 0.02) / 1e6, 12);
    expect(fake.requests.filter((r) => r.path === '/v1/embeddings').length).toBeGreaterThan(3);
  });
});
