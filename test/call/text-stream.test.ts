import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type DeepgramFake, startDeepgramFake } from '../../bench/fakes/deepgram.js';
import { type ElevenLabsFake, startElevenLabsFake } from '../../bench/fakes/elevenlabs.js';
import {
  lastToolResult,
  lastUser,
  ScriptedAsr,
  ScriptedLlm,
  ScriptedTts,
  scriptedRegistry,
} from '../../bench/scripted.js';
import type { AssistantConfig } from '../../src/assistant.js';
import { resilientTts } from '../../src/providers/resilience.js';
import { DeepgramTts } from '../../src/providers/tts/deepgram.js';
import { ElevenLabsTts } from '../../src/providers/tts/elevenlabs.js';
import type { ChatMessage, TtsProvider } from '../../src/providers/types.js';
import { harnessPerTest } from './harness.js';

/**
 * Incremental TTS text streaming in a call: a reply the LLM streams word by word goes to the TTS WebSocket as one
 * text stream (one context) per reply, against the loopback fakes speaking the real protocols; barge-in cancels the
 * stream and truncates by the provider's word alignment; a stream that fails mid-reply goes on through the chain.
 */
const h = harnessPerTest();

const STORY =
  'Once upon a time there was a small village by the sea, where the boats left early. Every morning the fishermen went out in their boats. One day a storm came and everyone stayed home.';

function respond(messages: ChatMessage[]) {
  const u = lastUser(messages).toLowerCase();
  if (u.includes('story')) return [{ text: STORY }];
  if (u.includes('bye'))
    return lastToolResult(messages)
      ? []
      : [{ text: 'Goodbye, see you.' }, { tool: 'end_call', args: { reason: 'caller_done' } }];
  return [{ text: 'Sure.' }];
}

/** A reply still being generated when the caller barges in: 100 ms per LLM word. */
const SLOW_LLM = 100;

/** A call whose TTS is `primary` (then `fallback`) through the one resilience wrapper, incidents on the call. */
function call(primary: TtsProvider, fallback?: TtsProvider, config: AssistantConfig = {}, tokenIntervalMs = 5) {
  const asr = new ScriptedAsr({ script: config.firstMessage ? ['bye now'] : ['tell me a story', 'stop please'] });
  const llm = new ScriptedLlm({ respond, firstTokenMs: 30, tokenIntervalMs });
  const base = scriptedRegistry({ asr, llm, tts: new ScriptedTts() });
  const chain = fallback ? [primary, fallback] : [primary];
  return h({
    config: { settings: { bargeInMinSpeechMs: 100 }, ...config },
    asr: { script: [] },
    llm: { respond },
    deps: {
      providers: {
        ...base,
        tts: (_c, hooks) =>
          resilientTts(chain, { maxRetries: 0, firstByteTimeoutMs: 2000, onIncident: hooks?.onIncident }),
      },
    },
  });
}

type X = ReturnType<typeof call>;

/** The caller asks; the agent answers; resolves when the agent is speaking. */
async function ask(x: X): Promise<void> {
  await x.session.start();
  await x.leg.caller('speech', 500);
  await x.leg.caller('silence', 200);
  await x.until(() => x.session.state === 'agent_speaking', 'agent speaking');
}

/** The caller talks over the agent; resolves when the second turn is in the transcript. */
async function bargeIn(x: X): Promise<void> {
  await x.leg.caller('silence', 1500);
  await x.leg.caller('speech', 400);
  await x.until(() => x.leg.count('clear') > 0, 'clear sent');
  await x.leg.caller('silence', 300);
  await x.until(() => x.session.transcript.some((t) => t.role === 'user' && t.text === 'stop please'), 'second turn');
}

function heardReply(x: X): string {
  const m = x.session.history.find((e) => e.role === 'assistant');
  return m?.role === 'assistant' ? m.content : '';
}

describe('a call over the ElevenLabs stream-input WebSocket', () => {
  let fake: ElevenLabsFake;
  beforeAll(async () => {
    fake = await startElevenLabsFake({ apiKey: 'xi-test' });
  });
  afterAll(() => fake.close());
  afterEach(() => {
    fake.faults.length = 0;
  });

  it('streams the reply into one context, clause by clause as the LLM streams it, and plays it to the end', async () => {
    const x = call(new ElevenLabsTts({ apiKey: 'xi-test', baseUrl: fake.url }));
    const from = fake.wsMessages.length;
    await ask(x);
    await x.until(() => x.session.state === 'listening', 'reply heard to its end', 20_000);
    const msgs = fake.wsMessages.slice(from);
    const contexts = new Set(msgs.map((m) => m.context_id));
    expect(contexts.size).toBe(1);
    const texts = msgs.map((m) => m.text).filter((t): t is string => typeof t === 'string' && t.trim() !== '');
    // Several clauses, each ending with its space, in order: the whole reply.
    expect(texts.length).toBeGreaterThan(2);
    for (const t of texts) expect(t.endsWith(' ')).toBe(true);
    expect(texts.join('').trim()).toBe(STORY);
    // The first clause (cut at a comma) was flushed at once; the context was closed at the end of the reply.
    expect(msgs.findIndex((m) => m.flush === true)).toBeLessThan(msgs.findIndex((m) => m.text === texts[1]));
    expect(msgs.filter((m) => m.context_id !== undefined).at(-1)).toMatchObject({ close_context: true });
    // No per-clause HTTP request: the stream carried it all.
    expect(fake.requests.filter((r) => r.path.includes('/stream/with-timestamps'))).toHaveLength(0);
    expect(x.session.transcript.find((t) => t.role === 'assistant')?.text).toBe(STORY);
    expect(x.leg.playedSamples).toBeGreaterThan(8000 * 5);
  });

  it('barge-in mid-reply cancels the context and cuts the history at the last aligned word heard', async () => {
    const x = call(new ElevenLabsTts({ apiKey: 'xi-test', baseUrl: fake.url }), undefined, {}, SLOW_LLM);
    const from = fake.wsMessages.length;
    await ask(x);
    await bargeIn(x);
    const msgs = fake.wsMessages.slice(from);
    const id = msgs.find((m) => typeof m.context_id === 'string')?.context_id;
    const mine = msgs.filter((m) => m.context_id === id);
    // The reply's context was closed while the reply was still being written: the rest of it never went out.
    const close = mine.findIndex((m) => m.close_context === true);
    expect(close).toBeGreaterThan(0);
    expect(mine.slice(0, close).some((m) => m.flush === true && m.text === undefined)).toBe(false);
    const sent = mine.map((m) => (typeof m.text === 'string' ? m.text : '')).join('');
    expect(sent.trim().length).toBeLessThan(STORY.length);
    const heard = heardReply(x);
    expect(heard.length).toBeGreaterThan(0);
    expect(heard.length).toBeLessThan(STORY.length);
    expect(STORY.startsWith(heard)).toBe(true);
    const entry = x.session.transcript.find((t) => t.role === 'assistant');
    expect(entry?.interrupted).toBe(true);
    expect(entry?.truncation).toBe('word_timestamps');
  });

  it('a socket dropped mid-reply: the unspoken rest goes on through the chain (HTTP fails, the fallback speaks)', async () => {
    // A fake of its own: its fault queue is this call's alone.
    const own = await startElevenLabsFake({ apiKey: 'xi-test' });
    onTestFinished(() => own.close());
    const fallback = new ScriptedTts({ id: 'fallback-tts' });
    const x = call(new ElevenLabsTts({ apiKey: 'xi-test', baseUrl: own.url }), fallback);
    // The call's socket drops after its first generation; the primary's HTTP route then answers 500.
    own.faults.push('drop', 'server_error');
    await ask(x);
    await x.until(() => x.session.state === 'listening', 'reply heard to its end', 20_000);
    const incidents = x.sink.of('incident');
    const dropped = expect.objectContaining({
      kind: 'tts',
      provider: 'elevenlabs',
      code: 'connection',
      action: 'fallback',
    });
    // The fake drops the socket after its first generation; on a loaded machine that can come before any of the
    // reply's audio was taken, and then (as documented) the whole reply goes to the next provider. Each path is
    // checked exactly.
    const midReply = own.requests.some((r) => r.path.endsWith('/stream/with-timestamps'));
    if (midReply) {
      expect(incidents).toEqual(
        expect.arrayContaining([
          dropped,
          expect.objectContaining({ kind: 'tts', provider: 'elevenlabs', code: 'server', action: 'fallback' }),
        ]),
      );
      // The fallback spoke the words the stream had not: the end of the reply, not its beginning.
      expect(fallback.texts).toHaveLength(1);
      expect(STORY.endsWith(fallback.texts[0]!)).toBe(true);
      expect(fallback.texts[0]!.length).toBeLessThan(STORY.length);
    } else {
      expect(incidents).toEqual([dropped]);
      expect(fallback.texts.join('').trim()).toBe(STORY);
      expect(own.faults).toEqual(['server_error']);
    }
    expect(x.session.transcript.find((t) => t.role === 'assistant')?.text).toBe(STORY);
  });

  it('uninterruptible greeting over the clause path; a tool call ends the text stream before it runs', async () => {
    // A fake of its own: every message on it is this call's.
    const own = await startElevenLabsFake({ apiKey: 'xi-test' });
    onTestFinished(() => own.close());
    const x = call(new ElevenLabsTts({ apiKey: 'xi-test', baseUrl: own.url }), undefined, {
      firstMessage: 'This call is recorded.',
      settings: { bargeInMinSpeechMs: 100, interruption: { firstMessageUninterruptible: true } },
    });
    await x.session.start();
    await x.until(() => x.session.state === 'listening', 'greeting heard', 10_000);
    // Uninterruptible text is a piece of its own (its own marks): one request on the per-clause route.
    expect(own.requests.filter((r) => r.path.includes('/stream/with-timestamps'))).toHaveLength(1);
    expect(own.wsMessages).toHaveLength(0);
    await x.leg.caller('speech', 500);
    await x.leg.caller('silence', 200);
    await x.until(() => x.ended.length > 0, 'call ended by the tool', 15_000);
    // The text before end_call went out and its context was closed (flushed, then close_context) by the tool call.
    const msgs = own.wsMessages;
    expect(
      msgs
        .map((m) => m.text ?? '')
        .join('')
        .trim(),
    ).toBe('Goodbye, see you.');
    // (the socket itself may be closed after the call: close_socket, no context)
    expect(msgs.filter((m) => m.context_id !== undefined).at(-1)).toMatchObject({ close_context: true });
  });
});

describe('a call over the Deepgram speak WebSocket', () => {
  let fake: DeepgramFake;
  beforeAll(async () => {
    fake = await startDeepgramFake({ apiKey: 'dg-test' });
  });
  afterAll(() => fake.close());

  it('streams the reply as Speak + Flush per clause on the call socket and plays it to the end', async () => {
    const x = call(new DeepgramTts({ apiKey: 'dg-test', baseUrl: fake.url }));
    const from = fake.speakMessages.length;
    await ask(x);
    await x.until(() => x.session.state === 'listening', 'reply heard to its end', 20_000);
    const msgs = fake.speakMessages.slice(from);
    const spoken = msgs.filter((m) => m.type === 'Speak').map((m) => String(m.text));
    expect(spoken.length).toBeGreaterThan(2);
    expect(spoken.join('').trim()).toBe(STORY);
    // A Flush per clause, and the one that ends the reply.
    expect(msgs.filter((m) => m.type === 'Flush').length).toBe(spoken.length + 1);
    expect(x.session.transcript.find((t) => t.role === 'assistant')?.text).toBe(STORY);
  });

  it('barge-in mid-reply sends Clear and truncates by the played-sample estimate (no word timings)', async () => {
    const x = call(new DeepgramTts({ apiKey: 'dg-test', baseUrl: fake.url }), undefined, {}, SLOW_LLM);
    const from = fake.speakMessages.length;
    await ask(x);
    await bargeIn(x);
    const msgs = fake.speakMessages.slice(from);
    const clear = msgs.findIndex((m) => m.type === 'Clear');
    expect(clear).toBeGreaterThan(0);
    // Cleared while the reply was still being written: the rest of it never went out.
    const spoken = msgs.filter((m) => m.type === 'Speak').map((m) => String(m.text));
    expect(spoken.join('').trim().length).toBeLessThan(STORY.length);
    const heard = heardReply(x);
    expect(heard.length).toBeLessThan(STORY.length);
    expect(STORY.startsWith(heard)).toBe(true);
    expect(x.session.transcript.find((t) => t.role === 'assistant')?.truncation).toBe('estimate');
  });
});
