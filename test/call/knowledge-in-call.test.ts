import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import type { ChatMessage } from '../../src/providers/types.js';
import {
  createHashedEmbedder,
  createRetriever,
  type KnowledgeBase,
  openKnowledgeBase,
  type RetrievalEvent,
} from '../../src/rag/index.js';
import { faqFixture, tempDir } from '../rag/helpers.js';
import { harnessPerTest } from './harness.js';

/**
 * A call bound to a knowledge collection answers from it: real LanceDB in a temp dir, the offline hashed embedder
 * (hybrid search), the engine's per-call retriever, and a scripted LLM that can only answer from the knowledge the
 * reply put in its system prompt. The lookup runs on the ASR's words while endpointing waits, so the turn's own
 * search finds it done.
 */
let kb: KnowledgeBase;
let cleanup: () => Promise<void>;
const events: RetrievalEvent[] = [];
const h = harnessPerTest();

beforeAll(async () => {
  const t = await tempDir();
  cleanup = t.cleanup;
  kb = await openKnowledgeBase({
    uri: t.dir,
    logger: silentLogger,
    embed: createHashedEmbedder(),
    onRetrieval: (e) => events.push(e),
  });
  await kb.upsertDocument('t1', 'faq', { name: 'faq.csv', content: faqFixture().csv });
});

afterAll(async () => {
  await kb.close();
  await cleanup();
});

/** Answers with the first sentence of the top knowledge hit that gives a figure, or admits it does not know. */
function fromKnowledge(messages: ChatMessage[]) {
  const system = messages.find((m) => m.role === 'system')?.content ?? '';
  const hit = /\[1\] ([\s\S]*?)(?=\n\[2\]|$)/.exec(system)?.[1]?.replace(/\s+/g, ' ') ?? '';
  const sentence = hit.split(/(?<=[.?!])\s/).find((x) => /\d/.test(x));
  return [{ text: sentence ?? 'I do not know.' }];
}

describe('knowledge in the call', () => {
  it('answers from the bound collection, with the lookup prefetched before the turn commits', async () => {
    const retriever = createRetriever(kb, 't1', { collections: ['faq'], topK: 2 });
    const x = h({
      config: { rag: { collections: ['faq'], topK: 2 } },
      asr: { script: ['when do you open on weekdays'], partialAfterMs: 150, finalLatencyMs: 100 },
      llm: { respond: fromKnowledge, firstTokenMs: 20 },
      tts: { msPerChar: 5 },
      deps: { retriever },
    });
    await x.session.start();
    await x.leg.caller('speech', 900);
    await x.leg.caller('silence', 300);
    await x.until(() => x.session.transcript.some((t) => t.role === 'assistant'), 'answer');
    const answer = x.session.transcript.find((t) => t.role === 'assistant')!.text;
    expect(answer).toContain('9 am to 7 pm');
    // The turn's search reused a prefetch (started on the ASR's words before the commit), no second query.
    expect(retriever.stats.prefetches).toBeGreaterThanOrEqual(1);
    expect(retriever.stats.cacheHits).toBe(1);
    expect(events.filter((e) => !e.prefetch)).toHaveLength(0);
    expect(events.some((e) => e.prefetch && e.query === 'when do you open on weekdays')).toBe(true);
  });
});
