/**
 * `voice-engine bench rag [--json] [--chunks N] [--queries N]` (DESIGN.md 7): retrieval latency and ingestion
 * throughput on a deterministic synthetic corpus (default 10,000 chunks plus the FAQ fixture) in a temp dir.
 * Hybrid uses the in-process hashed embedder (src/rag/hashed-embedder.ts, 256 dims): it measures the engine's
 * vector + BM25 + RRF path, not a model's latency. Recall@3 is measured on the FAQ fixture's paraphrased questions
 * with the whole corpus as distractors.
 *
 * Upload lag: the engine's pacing clock (src/telephony/pacer.ts, 10 ms ticks, one leg) runs while a ~20 MB
 * Markdown document (`--upload-mb`, default 19) is indexed through the same path as an API upload; the tick
 * lateness during the upload is printed next to a baseline taken just before (issue 11: p99 <= 20 ms).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { flagNumber } from '../src/cli/args.js';
import type { BenchContext } from '../src/cli/bench.js';
import { silentLogger } from '../src/log.js';
import { createHashedEmbedder, type KnowledgeBase, openKnowledgeBase, type SearchMode } from '../src/rag/index.js';
import { Pacer } from '../src/telephony/pacer.js';
import { inCallTable, runInCall } from './rag-in-call.js';

interface Question {
  q: string;
  id: string;
}

function fixtureText(name: string): string {
  // Source tree (tsx) or build output (dist/bench): the fixtures stay at the package root.
  for (const rel of ['../fixtures/rag/', '../../fixtures/rag/']) {
    try {
      return readFileSync(new URL(`${rel}${name}`, import.meta.url), 'utf8');
    } catch {
      // try the next location
    }
  }
  throw new Error(`fixtures/rag/${name} not found`);
}

/** Park–Miller LCG: the same corpus on every run. */
function prng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 48271) % 2147483647;
    return s / 2147483647;
  };
}

const TOPICS = ['trail', 'summit', 'river', 'forest', 'canyon', 'glacier', 'coast', 'meadow', 'ridge', 'valley'];
const WORDS = (
  'waterproof breathable lightweight insulated durable ripstop nylon merino fleece zipper pocket hood strap buckle ' +
  'frame carbon aluminium titanium stove burner canister fuel lantern headlamp battery compass map route elevation ' +
  'campsite shelter tarp stake guyline footprint vestibule sleeping pad pillow quilt down synthetic layer base shell ' +
  'glove beanie gaiter sock boot sole tread lace crampon ice axe rope harness carabiner belay anchor helmet paddle ' +
  'hull rudder spray skirt dry bag cooler filter bottle bladder snack ration weather forecast wind rain snow sun'
).split(' ');

function paragraph(rnd: () => number, doc: number, i: number): string {
  const parts: string[] = [`Item ${doc}-${i} for the ${TOPICS[(doc + i) % TOPICS.length]} range.`];
  let len = parts[0]!.length;
  while (len < 560) {
    const n = 8 + Math.floor(rnd() * 8);
    const words: string[] = [];
    for (let k = 0; k < n; k++)
      words.push(
        rnd() < 0.15 ? `x${Math.floor(rnd() * 20000).toString(36)}` : WORDS[Math.floor(rnd() * WORDS.length)]!,
      );
    const s = `${words.join(' ')}.`;
    parts.push(s[0]!.toUpperCase() + s.slice(1));
    len += s.length + 1;
  }
  return parts.join(' ');
}

function corpus(chunks: number): { name: string; text: string }[] {
  const rnd = prng(42);
  const perDoc = 100;
  const docs: { name: string; text: string }[] = [];
  for (let d = 0; d * perDoc < chunks; d++) {
    const n = Math.min(perDoc, chunks - d * perDoc);
    const paras = Array.from({ length: n }, (_, i) => paragraph(rnd, d, i));
    docs.push({ name: `catalog-${d}.txt`, text: paras.join('\n\n') });
  }
  return docs;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
const round = (x: number) => Math.round(x * 100) / 100;

async function ingest(
  kb: KnowledgeBase,
  docs: { name: string; text: string }[],
  faq: string,
): Promise<{ chunks: number; perS: number }> {
  const t0 = performance.now();
  let chunks = 0;
  for (const d of docs)
    chunks += (await kb.upsertDocument('bench', 'kb', { name: d.name, content: d.text, mime: 'text/plain' })).chunks;
  chunks += (await kb.upsertDocument('bench', 'kb', { name: 'faq.csv', content: faq })).chunks;
  await kb.flush();
  return { chunks, perS: chunks / ((performance.now() - t0) / 1000) };
}

async function latency(
  kb: KnowledgeBase,
  queries: string[],
  n: number,
  mode: SearchMode,
): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 20; i++) await kb.search('bench', 'kb', queries[i % queries.length]!, { topK: 3, mode });
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await kb.search('bench', 'kb', queries[i % queries.length]!, { topK: 3, mode });
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { p50: round(percentile(ms, 50)), p99: round(percentile(ms, 99)) };
}

async function recallAt3(kb: KnowledgeBase, questions: Question[], mode: SearchMode): Promise<number> {
  let hit = 0;
  for (const { q, id } of questions)
    if (
      (await kb.search('bench', 'kb', q, { topK: 3, mode })).some(
        (h) => h.documentName === 'faq.csv' && h.section === id,
      )
    )
      hit++;
  return Math.round((hit / questions.length) * 1000) / 1000;
}

function bigMarkdown(bytes: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  for (let s = 0; n < bytes; s++) {
    const section = `## Section ${s}\n\n`;
    const para =
      `Item ${s} ships in ${s % 9} days to zone ${s % 13}; returns within ${s % 30} days are refunded. `.repeat(6);
    parts.push(section, para, '\n\n');
    n += section.length + para.length + 2;
  }
  return Buffer.from(parts.join(''));
}

function lagStats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => Math.round((s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? 0) * 10) / 10;
  return { p50: at(0.5), p99: at(0.99), max: at(1), ticks: s.length };
}

/** Pacer tick lateness before and during the indexing of one big document. */
async function uploadLag(dir: string, mb: number) {
  const doc = bigMarkdown(Math.round(mb * 2 ** 20));
  const kb = await openKnowledgeBase({ uri: path.join(dir, 'upload'), logger: silentLogger });
  let lags: number[] = [];
  const pacer = new Pacer({ onTickLate: (late) => lags.push(Math.max(0, late)) });
  const leg = { pump: () => {} };
  pacer.add(leg);
  try {
    await new Promise((r) => setTimeout(r, 3000));
    const baseline = lagStats(lags);
    lags = [];
    const t0 = performance.now();
    const info = await kb.upsertDocument('bench', 'manual', { name: 'manual.md', content: doc, mime: 'text/markdown' });
    const ms = Math.round(performance.now() - t0);
    return {
      mb: Math.round((doc.length / 1e6) * 10) / 10,
      chunks: info.chunks,
      ms,
      baseline_ms: baseline,
      during_ms: lagStats(lags),
    };
  } finally {
    pacer.remove(leg);
    pacer.stop();
    await kb.close();
  }
}

export async function run(ctx: BenchContext) {
  if (ctx.args.flags['in-call']) return runInCall(ctx);
  const target = flagNumber(ctx.args, 'chunks', 10_000);
  const n = flagNumber(ctx.args, 'queries', 500);
  const faq = fixtureText('faq.csv');
  const questions = (JSON.parse(fixtureText('questions.json')) as { questions: Question[] }).questions;
  const queries = [
    ...questions.map((q) => q.q),
    ...TOPICS.map((t, i) => `${WORDS[i * 7]} ${t} ${WORDS[i * 3 + 1]}`),
    'waterproof jacket with a hood',
    'lightweight titanium stove burner',
  ];
  const docs = corpus(target);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-rag-'));
  try {
    ctx.progress(`rag: ingesting ${target} synthetic chunks + the FAQ fixture (full-text only)`);
    const ftsKb = await openKnowledgeBase({ uri: path.join(dir, 'fts'), logger: silentLogger });
    const fts = await ingest(ftsKb, docs, faq);
    ctx.progress(`rag: ${fts.chunks} chunks, ${Math.round(fts.perS)} chunks/s; ${n} full-text queries`);
    const ftsMs = await latency(ftsKb, queries, n, 'fts');
    const ftsRecall = await recallAt3(ftsKb, questions, 'fts');
    await ftsKb.close();

    ctx.progress('rag: ingesting again with the hashed embedder (256 dims) for hybrid');
    const hyKb = await openKnowledgeBase({
      uri: path.join(dir, 'hybrid'),
      logger: silentLogger,
      embed: createHashedEmbedder(256),
      vectorIndexMinRows: flagNumber(ctx.args, 'vector-index-min-rows', 10_000),
    });
    const hy = await ingest(hyKb, docs, faq);
    ctx.progress(`rag: ${hy.chunks} chunks, ${Math.round(hy.perS)} chunks/s; ${n} hybrid queries`);
    const hybridMs = await latency(hyKb, queries, n, 'hybrid');
    const vectorMs = await latency(hyKb, queries, Math.ceil(n / 2), 'vector');
    const hybridRecall = await recallAt3(hyKb, questions, 'hybrid');
    const vectorRecall = await recallAt3(hyKb, questions, 'vector');
    await hyKb.close();

    const mb = flagNumber(ctx.args, 'upload-mb', 19);
    ctx.progress(`rag: pacer lag while a ${mb} MB document is indexed (3 s baseline first)`);
    const upload = await uploadLag(dir, mb);

    return {
      suite: 'rag',
      chunks: fts.chunks,
      queries: n,
      fts_ms: ftsMs,
      hybrid_ms: hybridMs,
      vector_ms: vectorMs,
      ingest_chunks_per_s: Math.round(fts.perS),
      ingest_hybrid_chunks_per_s: Math.round(hy.perS),
      recall_at_3: {
        fts: ftsRecall,
        vector: vectorRecall,
        hybrid: hybridRecall,
        questions: questions.length,
        distractor_chunks: fts.chunks - 56,
      },
      embedder: 'in-process hashed bag-of-words, 256 dims (no model)',
      upload_pacer_lag: upload,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function table(r: Record<string, unknown>): string[][] {
  if (r.mode === 'in-call') return inCallTable(r);
  const f = r.fts_ms as { p50: number; p99: number };
  const h = r.hybrid_ms as { p50: number; p99: number };
  const rec = r.recall_at_3 as { fts: number; hybrid: number; vector: number };
  type Lag = { p99: number; max: number };
  const up = r.upload_pacer_lag as { mb: number; during_ms: Lag; baseline_ms: Lag } | undefined;
  return [
    ['metric', 'value'],
    ['chunks', String(r.chunks)],
    ['fts p50 / p99 ms', `${f.p50} / ${f.p99}`],
    ['hybrid p50 / p99 ms', `${h.p50} / ${h.p99}`],
    ['ingest chunks/s (fts, hybrid)', `${r.ingest_chunks_per_s}, ${r.ingest_hybrid_chunks_per_s}`],
    ['recall@3 fts / vector / hybrid', `${rec.fts} / ${rec.vector} / ${rec.hybrid}`],
    ...(up
      ? [
          [`pacer lag p99 / max ms, ${up.mb} MB upload`, `${up.during_ms.p99} / ${up.during_ms.max}`],
          ['pacer lag p99 / max ms, baseline', `${up.baseline_ms.p99} / ${up.baseline_ms.max}`],
        ]
      : []),
  ];
}
