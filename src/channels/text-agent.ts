import type { Assistant, LlmConfig } from '../assistant.js';
import type { Logger } from '../log.js';
import type { ChatMessage, KnowledgeHit, LlmProvider, ToolCall } from '../providers/types.js';
import type { ToolContext, ToolRegistry } from '../tools/types.js';

/**
 * An assistant answering a text conversation (WhatsApp): the contact's history -> the assistant's LLM with its tools
 * and knowledge -> one reply text. The same assistant as on calls (prompt, llm, tools, rag), minus what only a call
 * can do: the call-control built-ins (end_call, transfer_call, send_dtmf) are not offered.
 */

const MAX_TOOL_ROUNDS = 4;
const TOOL_TIMEOUT_MS = 30_000;
const REPLY_TIMEOUT_MS = 60_000;
const MAX_KNOWLEDGE_CHARS = 3000;
/** Built-ins that act on a live call: meaningless in a chat. */
const CALL_ONLY = new Set(['end_call', 'transfer_call', 'send_dtmf']);

export interface TextAgentDeps {
  llm(cfg: LlmConfig | undefined): LlmProvider;
  tools: ToolRegistry;
  /** The assistant's knowledge search (its rag collections), when it has any. */
  retriever?(tenantId: string, assistant: Assistant): { search(q: string): Promise<KnowledgeHit[]> } | undefined;
  logger: Logger;
}

export interface TextTurn {
  tenantId: string;
  assistant: Assistant;
  /** The conversation so far, oldest first; the last message is the contact's. */
  history: ChatMessage[];
  /** Names the conversation in tool contexts and logs (e.g. `wa:+15551234567`). */
  conversationId: string;
  /** The contact's number (E.164): who send_sms reaches by default. */
  contact: string;
}

export interface ToolRun {
  name: string;
  ok: boolean;
  ms: number;
  bytes: number;
  error: string | null;
}

export interface TextReply {
  text: string;
  tools: ToolRun[];
}

export async function replyToText(deps: TextAgentDeps, turn: TextTurn): Promise<TextReply> {
  const { assistant } = turn;
  const cfg = assistant.config;
  const llm = deps.llm(cfg.llm);
  const retriever = cfg.rag?.collections?.length ? deps.retriever?.(turn.tenantId, assistant) : undefined;
  const lastUser = [...turn.history].reverse().find((m) => m.role === 'user')?.content ?? '';
  const knowledge = retriever && cfg.rag?.mode !== 'tool' ? await knowledgeFor(retriever, cfg.rag, lastUser) : '';
  const callTools = await deps.tools.forCall(cfg, deps.logger);
  const signal = AbortSignal.timeout(REPLY_TIMEOUT_MS);
  const runs: ToolRun[] = [];
  try {
    const specs = callTools.specs().filter((t) => !CALL_ONLY.has(t.name));
    const messages: ChatMessage[] = [{ role: 'system', content: systemPrompt(cfg.prompt, knowledge) }, ...turn.history];
    const ctx: ToolContext = {
      callId: turn.conversationId,
      tenantId: turn.tenantId,
      party: turn.contact,
      assistantId: assistant.id,
      signal,
      logger: deps.logger,
      endCall: () => {},
      transfer: () => {},
      sendDtmf: () => {},
      ...(retriever ? { search: (q: string) => retriever.search(q) } : {}),
      transferTargets: [],
    };
    let text = '';
    for (let round = 0; round < MAX_TOOL_ROUNDS; round++) {
      let roundText = '';
      const calls: ToolCall[] = [];
      for await (const ev of llm.stream(
        {
          messages,
          ...(specs.length ? { tools: specs } : {}),
          model: cfg.llm?.model,
          temperature: cfg.llm?.temperature,
          maxTokens: cfg.llm?.maxTokens,
          ...(retriever ? { knowledge: (q: string) => retriever.search(q) } : {}),
        },
        signal,
      )) {
        if (ev.type === 'text') roundText += ev.delta;
        else if (ev.type === 'tool_call') calls.push(ev.call);
      }
      if (roundText) text += (text ? '\n' : '') + roundText;
      if (calls.length === 0) break;
      messages.push({ role: 'assistant', content: roundText, toolCalls: calls });
      for (const call of calls) {
        const tool = CALL_ONLY.has(call.name) ? undefined : callTools.get(call.name);
        const started = performance.now();
        let content: string;
        let ok = false;
        try {
          if (!tool) throw new Error(`unknown tool ${call.name}`);
          const parsed: unknown = call.arguments ? JSON.parse(call.arguments) : {};
          const args = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {};
          const res = await tool.run(args as Record<string, unknown>, {
            ...ctx,
            signal: AbortSignal.any([signal, AbortSignal.timeout(TOOL_TIMEOUT_MS)]),
          });
          ok = res.ok;
          content = res.content;
        } catch (err) {
          content = JSON.stringify({ error: (err as Error).message });
        }
        runs.push({
          name: call.name,
          ok,
          ms: Math.round(performance.now() - started),
          bytes: Buffer.byteLength(content),
          error: ok ? null : errorOf(content),
        });
        messages.push({ role: 'tool', toolCallId: call.id, name: call.name, content });
      }
    }
    return { text: text.trim(), tools: runs };
  } finally {
    await callTools.close();
  }
}

function systemPrompt(prompt: string | undefined, knowledge: string): string {
  const parts = [
    prompt ?? 'You are a helpful assistant.',
    'You are answering a WhatsApp chat: write short plain-text messages.',
  ];
  if (knowledge) parts.push(`Relevant knowledge for the last message:\n${knowledge}`);
  return parts.join('\n\n');
}

async function knowledgeFor(
  r: { search(q: string): Promise<KnowledgeHit[]> },
  rag: { topK?: number; scoreThreshold?: number } | undefined,
  query: string,
): Promise<string> {
  if (!query) return '';
  const hits = await r.search(query).catch(() => []);
  const top = hits
    .filter((h) => rag?.scoreThreshold === undefined || h.score >= rag.scoreThreshold)
    .slice(0, rag?.topK ?? 3);
  return top
    .map((h, i) => `[${i + 1}] ${h.text}`)
    .join('\n')
    .slice(0, MAX_KNOWLEDGE_CHARS);
}

function errorOf(content: string): string | null {
  try {
    const v = JSON.parse(content) as { error?: unknown };
    return typeof v.error === 'string' ? v.error : 'error';
  } catch {
    return 'error';
  }
}
