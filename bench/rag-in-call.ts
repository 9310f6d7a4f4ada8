/**
 * `voice-engine bench rag --in-call [--json] [--partial-ms N] [--endpointing-ms N]`: what the knowledge lookup adds
 * to a call's turn. The call path is the engine's own: the per-call retriever (src/rag/retriever.ts) over real
 * LanceDB in a temp dir (the FAQ fixture, hybrid search with the offline hashed embedder), prefetched the way the
 * session does it (src/call/caller-turns.ts): on the ASR's words while the caller speaks (an interim with the first
 * 60% of the question), again at the final, then the turn commits `--endpointing-ms` later and the reply awaits
 * search(final text) before the LLM request (src/call/reply.ts). `added_ms` is that await: the lookup's share of
 * the turn (goal 0 at the median). `without_prefetch_ms` is the same search with nothing prefetched: what the
 * prefetch hides. Timing figures: noisy on a loaded machine.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { flagNumber } from '../src/cli/args.js';
import type { BenchContext } from '../src/cli/bench.js';
import { silentLogger } from '../src/log.js';
import { createHashedEmbedder, createRetriever, openKnowledgeBase } from '../src/rag/index.js';
import { percentile, round } from './stats.js';

function fixture(name: string): string {
  for (const rel of ['../fixtures/rag/', '../../fixtures/rag/']) {
    try {
      return readFileSync(new URL(`${rel}${name}`, import.meta.url), 'utf8');
    } catch {
      // try the next location
    }
  }
  throw new Error(`fixtures/rag/${name} not found`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: round(percentile(s, 50)), p95: round(percentile(s, 95)), max: round(s.at(-1) ?? 0) };
}

export async function runInCall(ctx: BenchContext) {
  // The rest of the utterance after the interim, and the endpointing wait after the final (engine default 250 ms).
  const partialMs = flagNumber(ctx.args, 'partial-ms', 400);
  const endpointingMs = flagNumber(ctx.args, 'endpointing-ms', 250);
  const dir = await mkdtemp(path.join(os.tmpdir(), 've-rag-call-'));
  const kb = await openKnowledgeBase({ uri: dir, logger: silentLogger, embed: createHashedEmbedder() });
  try {
    await kb.upsertDocument('t1', 'faq', { name: 'faq.csv', content: fixture('faq.csv') });
    const questions = (JSON.parse(fixture('questions.json')) as { questions: { q: string }[] }).questions.map(
      (q) => q.q,
    );
    const rag = { collections: ['faq'], topK: 3 };
    // Warm LanceDB's tables and the embedder (a call's first lookup after start-up is not what is measured).
    await createRetriever(kb, 't1', rag).search('warm up the tables');
    const added: number[] = [];
    const cold: number[] = [];
    let hits = 0;
    for (const [i, q] of questions.entries()) {
      if (i % 10 === 0) ctx.progress(`rag --in-call: ${i}/${questions.length}`);
      const words = q.split(/\s+/);
      const r = createRetriever(kb, 't1', rag);
      r.prefetch(words.slice(0, Math.ceil(words.length * 0.6)).join(' '));
      await sleep(partialMs);
      r.prefetch(q);
      await sleep(endpointingMs);
      const t = performance.now();
      await r.search(q);
      added.push(performance.now() - t);
      if (r.stats.cacheHits > 0) hits++;
      const fresh = createRetriever(kb, 't1', rag);
      const t2 = performance.now();
      await fresh.search(q);
      cold.push(performance.now() - t2);
    }
    return {
      suite: 'rag',
      mode: 'in-call',
      variant: 'in-call',
      questions: questions.length,
      partial_ms: partialMs,
      endpointing_ms: endpointingMs,
      added_ms: stats(added),
      without_prefetch_ms: stats(cold),
      prefetch_reused: round(hits / questions.length, 3),
    };
  } finally {
    await kb.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export function inCallTable(r: Record<string, unknown>): string[][] {
  const a = r.added_ms as { p50: number; p95: number };
  const c = r.without_prefetch_ms as { p50: number; p95: number };
  return [
    ['knowledge lookup in the turn', 'p50 ms', 'p95 ms'],
    ['added to the turn (prefetched)', String(a.p50), String(a.p95)],
    ['without prefetch', String(c.p50), String(c.p95)],
    ['prefetch reused', String(r.prefetch_reused), ''],
  ];
}
