import type { AssistantConfig } from '../assistant.js';
import type { ChatMessage, KnowledgeHit, LlmProvider, LlmRequest, ToolCall } from '../providers/types.js';
import { ProviderError } from '../providers/types.js';
import type { CallTools, ToolContext } from '../tools/types.js';
import type { AgentReply, Conversation } from './conversation.js';
import type { CallEventType, Retriever } from './deps.js';
import type { TurnMarks } from './metrics.js';
import { PHRASES } from './phrases.js';
import { Draft } from './preemptive.js';
import type { Utterance } from './speech.js';
import { containsPhrase } from './words.js';

/**
 * One agent reply: RAG context -> LLM stream (with tools) -> the utterance (splitter -> TTS -> leg). Tool calls
 * run between LLM rounds; a slow tool gets a spoken filler after settings.fillerAfterMs. The reply goes into the
 * history as it completes, so a barge-in can cut it to what was heard.
 */
const MAX_TOOL_ROUNDS = 4;
const TOOL_TIMEOUT_MS = 30_000;
const MAX_KNOWLEDGE_CHARS = 3000;

/** What a reply needs from its call: read access to the call's parts and a few requests, no session fields. */
export interface ReplyHost {
  readonly conversation: Conversation;
  readonly config: AssistantConfig;
  readonly llm: LlmProvider;
  readonly retriever: Retriever | undefined;
  now(): number;
  event(type: CallEventType, data: Record<string, unknown>): void;
  /** The agent starts preparing the reply (state `thinking`). */
  thinking(): void;
  /** The agent is heard before its answer (a tool filler): state `agent_speaking` if it was thinking. */
  fillerStarted(): void;
  /** A new agent utterance for this reply, in the history. */
  newUtterance(): { u: Utterance; r: AgentReply };
  callTools(): Promise<CallTools | undefined>;
  toolContext(signal: AbortSignal): ToolContext;
  /** end_call / transfer_call was asked for: stop the tool loop and act once the reply has played. */
  hasPendingAction(): boolean;
  recordTool(name: string, ok: boolean): void;
  finishTurn(u: Utterance, tm: TurnMarks): Promise<void>;
  /** The reply prepared on the caller's words before the commit, if it matches this turn (preemptive generation). */
  takeDraft?(text: string, llm: LlmProvider): ReplyDraft | undefined;
}

/** What a reply's first LLM round needs beyond the history: the tools and the knowledge for the caller's words. */
interface RoundContext {
  tools: CallTools | undefined;
  knowledge: string | undefined;
}

export type ReplyDraft = Draft<RoundContext>;

/**
 * Preemptive generation (settings.preemptiveGeneration): the first LLM round of the reply to `text`, started before
 * the turn is committed, buffered unheard (src/call/preemptive.ts). The reply adopts it when the turn matches.
 * None for words that end the call (an end phrase).
 */
export function prepareReply(s: ReplyHost, text: string): ReplyDraft | undefined {
  // An end phrase ends the call without a reply.
  if (containsPhrase(text, s.config.hangup?.endPhrases)) return undefined;
  const history = s.conversation.history;
  const llm = s.llm;
  return new Draft<RoundContext>(
    text,
    { historyLength: history.length, llm },
    {
      context: roundContext(s, text),
      run: (c, signal) => llm.stream(request(s, c, [...history, { role: 'user', content: text }]), signal),
    },
    s.now,
  );
}

async function roundContext(s: ReplyHost, query: string): Promise<RoundContext> {
  const [tools, knowledge] = await Promise.all([s.callTools(), knowledgeFor(s, query)]);
  return { tools, knowledge };
}

function request(s: ReplyHost, c: RoundContext, history: readonly ChatMessage[]): LlmRequest {
  const specs = c.tools?.specs() ?? [];
  const retriever = s.retriever;
  const cfg = s.config.llm ?? {};
  return {
    messages: [{ role: 'system', content: systemPrompt(s, c.knowledge) }, ...history],
    tools: specs.length ? specs : undefined,
    model: cfg.model,
    temperature: cfg.temperature,
    maxTokens: cfg.maxTokens,
    knowledge: retriever ? (q: string): Promise<KnowledgeHit[]> => retriever.search(q) : undefined,
  };
}

export async function runReply(s: ReplyHost, tm: TurnMarks): Promise<void> {
  s.thinking();
  const { u, r } = s.newUtterance();
  try {
    await generate(s, u, r, tm);
  } catch (err) {
    if (!u.cancelled) {
      const e = err instanceof ProviderError ? err : undefined;
      s.event('incident', {
        kind: e?.kind ?? 'llm',
        provider: e?.provider ?? s.llm.id,
        code: e?.code,
        message: (err as Error)?.message ?? String(err),
        turn: tm.turn,
      });
      // Nothing or little said yet: apologise so the caller is not left in silence.
      if (!u.hasText) {
        u.say(PHRASES.apology);
        s.conversation.say(r, PHRASES.apology);
      }
    }
  }
  if (!u.cancelled) u.end();
  await u.synthesized;
  await s.finishTurn(u, tm);
}

async function knowledgeFor(s: ReplyHost, query: string): Promise<string | undefined> {
  const r = s.retriever;
  const rag = s.config.rag;
  if (!r || !rag?.collections?.length || rag.mode === 'tool') return undefined;
  try {
    const hits = await r.search(query);
    const top = hits
      .filter((h) => rag.scoreThreshold === undefined || h.score >= rag.scoreThreshold)
      .slice(0, rag.topK ?? 3);
    if (!top.length) return undefined;
    let text = top.map((h, i) => `[${i + 1}] ${h.text}`).join('\n');
    if (text.length > MAX_KNOWLEDGE_CHARS) text = text.slice(0, MAX_KNOWLEDGE_CHARS);
    return text;
  } catch (err) {
    s.event('incident', { kind: 'rag', message: (err as Error).message });
    return undefined;
  }
}

function systemPrompt(s: ReplyHost, knowledge: string | undefined): string {
  const parts = [
    s.config.prompt ??
      'You are a helpful phone assistant. Keep answers short and conversational; they are spoken aloud.',
  ];
  if (knowledge) parts.push(`Relevant knowledge for the caller's last message:\n${knowledge}`);
  return parts.join('\n\n');
}

async function generate(s: ReplyHost, u: Utterance, r: AgentReply, tm: TurnMarks): Promise<void> {
  const query = s.conversation.lastUserText();
  // A reply prepared on these words before the commit: its first round has been streaming already.
  const draft = s.takeDraft?.(query, s.llm);
  const context = await (draft?.context ?? roundContext(s, query));
  if (u.cancelled) {
    draft?.discard();
    return;
  }
  for (let round = 0; round < MAX_TOOL_ROUNDS; round++) {
    const prepared = round === 0 ? draft : undefined;
    if (prepared) {
      tm.preemptive = true;
      if (tm.llmRequestAt === undefined) tm.llmRequestAt = prepared.requestAt;
    }
    if (tm.llmRequestAt === undefined) tm.llmRequestAt = s.now();
    const events = prepared
      ? prepared.stream(u.signal)
      : s.llm.stream(request(s, context, s.conversation.history), u.signal);
    let text = '';
    const calls: ToolCall[] = [];
    // The message is in the history from the first token on, so a barge-in truncates it in place.
    for await (const ev of events) {
      if (u.cancelled) return;
      if (ev.type === 'text') {
        if (!ev.delta) continue;
        if (tm.llmFirstTokenAt === undefined) tm.llmFirstTokenAt = s.now();
        text += ev.delta;
        s.conversation.stream(r, text);
        u.pushText(ev.delta);
      } else if (ev.type === 'tool_call') {
        if (tm.llmFirstTokenAt === undefined) tm.llmFirstTokenAt = s.now();
        calls.push(ev.call);
      }
    }
    if (u.cancelled) return;
    s.conversation.streamed(r, text);
    if (calls.length === 0) return;
    // The text before the tool call is spoken in full now (a TTS text stream ends its run: no idle context).
    u.breakText();
    // The next round's text is a new assistant message.
    s.conversation.toolCalls(r, calls);
    for (const call of calls) {
      const content = await runTool(s, u, r, call, tm, context.tools);
      if (u.cancelled) return;
      s.conversation.toolResult(call, content);
    }
    // end_call / transfer_call: the goodbye (if any) was in this round's text; act after it has played.
    if (s.hasPendingAction()) return;
  }
}

async function runTool(
  s: ReplyHost,
  u: Utterance,
  r: AgentReply,
  call: ToolCall,
  tm: TurnMarks,
  tools: CallTools | undefined,
): Promise<string> {
  const tool = tools?.get(call.name);
  if (!tm.tools) tm.tools = [];
  tm.tools.push(call.name);
  const started = s.now();
  let args: Record<string, unknown> = {};
  let content: string;
  let ok = false;
  try {
    const parsed: unknown = call.arguments ? JSON.parse(call.arguments) : {};
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) args = parsed as Record<string, unknown>;
  } catch {
    content = JSON.stringify({ error: 'arguments are not valid JSON' });
    record(s, call, args, false, content, started, tm);
    return content;
  }
  if (!tool) {
    content = JSON.stringify({ error: `unknown tool ${call.name}` });
    record(s, call, args, false, content, started, tm);
    return content;
  }
  const fillerMs = s.config.settings?.fillerAfterMs ?? 1200;
  let filler: NodeJS.Timeout | undefined;
  if (fillerMs > 0) {
    filler = setTimeout(() => {
      if (u.cancelled) return;
      const text = tool.filler ?? PHRASES.filler;
      s.event('tool', { name: call.name, filler: text, turn: tm.turn });
      s.fillerStarted();
      u.say(text);
      // The caller hears it, so the transcript has it; the LLM history does not (it sits between the assistant's
      // tool call and the tool result, which must stay adjacent).
      s.conversation.heardOnly(r, text);
    }, fillerMs);
  }
  try {
    const signal = AbortSignal.any([u.signal, AbortSignal.timeout(TOOL_TIMEOUT_MS)]);
    const res = await tool.run(args, s.toolContext(signal));
    ok = res.ok;
    content = res.content;
  } catch (err) {
    content = JSON.stringify({ error: (err as Error).message });
  } finally {
    if (filler) clearTimeout(filler);
  }
  record(s, call, args, ok, content, started, tm);
  return content;
}

function record(
  s: ReplyHost,
  call: ToolCall,
  args: Record<string, unknown>,
  ok: boolean,
  content: string,
  started: number,
  tm: TurnMarks,
): void {
  s.recordTool(call.name, ok);
  s.event('tool', {
    name: call.name,
    id: call.id,
    arguments: args,
    ok,
    result: content.length > 2000 ? `${content.slice(0, 2000)}…` : content,
    bytes: Buffer.byteLength(content),
    ms: Math.round(s.now() - started),
    turn: tm.turn,
  });
}
