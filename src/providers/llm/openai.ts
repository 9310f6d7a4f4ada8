/**
 * OpenAI chat completions, streamed, with tool calling, through the `openai` SDK. `baseURL` makes any
 * OpenAI-compatible server work (Ollama, vLLM, llama.cpp, Groq...). The SDK's own retries are off (maxRetries 0):
 * retry and fallback live in src/providers/resilience.ts.
 */
import type OpenAI from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import { abortedError, classify, unavailable } from '../classify.js';
import { openAiClient } from '../openai-client.js';
import {
  type ChatMessage,
  type LlmEvent,
  type LlmProvider,
  type LlmRequest,
  ProviderError,
  type Timing,
} from '../types.js';

export type ReasoningEffort = 'none' | 'minimal' | 'low' | 'medium' | 'high';

export interface OpenAiLlmOptions {
  apiKey?: string;
  baseURL?: string;
  model?: string;
  /** Sent as `reasoning_effort` to reasoning models only (gpt-5*, o-series); other models ignore it. */
  reasoningEffort?: ReasoningEffort;
  /** Send `prompt_cache_key` (default: only to api.openai.com; compatible servers may refuse unknown fields). */
  promptCacheKey?: boolean;
}

export const OPENAI_DEFAULT_LLM_MODEL = 'gpt-4o-mini';

/**
 * Reasoning models (gpt-5 family except the `-chat` snapshots, o1 / o3 / o4-mini...) reject `temperature` (400
 * "Unsupported value: 'temperature'") and take `reasoning_effort` instead.
 */
export function isReasoningModel(model: string): boolean {
  return /^(o\d+(-|$)|gpt-5(?!.*-chat))/.test(model);
}

/**
 * `prompt_cache_key`: requests sharing a long prefix (the system prompt) are routed to the same cache; one key per
 * system prompt (FNV-1a of its text) keeps one assistant's calls together without naming the tenant.
 */
export function promptCacheKey(messages: ChatMessage[]): string | undefined {
  const system = messages.find((m) => m.role === 'system')?.content;
  if (!system) return undefined;
  let h = 0x811c9dc5;
  for (let i = 0; i < system.length; i++) h = Math.imul(h ^ system.charCodeAt(i), 0x01000193);
  return `ve-${(h >>> 0).toString(16)}-${system.length}`;
}

export function toOpenAiMessages(messages: ChatMessage[]): ChatCompletionMessageParam[] {
  return messages.map((m): ChatCompletionMessageParam => {
    switch (m.role) {
      case 'assistant':
        return m.toolCalls?.length
          ? {
              role: 'assistant',
              content: m.content || null,
              tool_calls: m.toolCalls.map((c) => ({
                id: c.id,
                type: 'function',
                function: { name: c.name, arguments: c.arguments },
              })),
            }
          : { role: 'assistant', content: m.content };
      case 'tool':
        return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
      default:
        return { role: m.role, content: m.content };
    }
  });
}

export class OpenAiLlm implements LlmProvider {
  readonly id = 'openai';
  private readonly client: OpenAI | undefined;
  private readonly secret: string | undefined;
  private readonly model: string;
  private readonly reasoningEffort: ReasoningEffort | undefined;
  private readonly sendCacheKey: boolean;
  /** A base URL other than api.openai.com: an OpenAI-compatible server. */
  private readonly compatible: boolean;

  constructor(opts: OpenAiLlmOptions) {
    this.compatible = opts.baseURL !== undefined && !/^https:\/\/api\.openai\.com/.test(opts.baseURL);
    this.secret = opts.apiKey;
    this.model = opts.model ?? OPENAI_DEFAULT_LLM_MODEL;
    this.reasoningEffort = opts.reasoningEffort;
    this.sendCacheKey = opts.promptCacheKey ?? !this.compatible;
    this.client = openAiClient({ apiKey: opts.apiKey, baseURL: opts.baseURL, timeoutMs: 60_000 });
  }

  async *stream(request: LlmRequest, signal: AbortSignal, timing: Timing = {}): AsyncIterable<LlmEvent> {
    if (!this.client) throw unavailable(this.id, 'llm', 'openai llm: set OPENAI_API_KEY or OPENAI_BASE_URL');
    if (signal.aborted) throw abortedError(this.id, 'llm');
    const model = request.model ?? this.model;
    const params: ChatCompletionCreateParamsStreaming = {
      model,
      messages: toOpenAiMessages(request.messages),
      stream: true,
      stream_options: { include_usage: true },
    };
    if (isReasoningModel(model)) {
      if (this.reasoningEffort) params.reasoning_effort = this.reasoningEffort;
    } else if (request.temperature !== undefined) params.temperature = request.temperature;
    const cacheKey = this.sendCacheKey ? promptCacheKey(request.messages) : undefined;
    if (cacheKey) params.prompt_cache_key = cacheKey;
    if (request.maxTokens !== undefined) {
      // OpenAI renamed max_tokens; many compatible servers (Ollama, llama.cpp, older vLLM) only know the old name
      if (this.compatible && !isReasoningModel(model)) params.max_tokens = request.maxTokens;
      else params.max_completion_tokens = request.maxTokens;
    }
    if (request.tools?.length) {
      params.tools = request.tools.map((t) => ({
        type: 'function',
        function: { name: t.name, description: t.description, parameters: t.parameters },
      }));
    }
    if (request.jsonSchema) {
      params.response_format = {
        type: 'json_schema',
        json_schema: { name: 'output', schema: request.jsonSchema, strict: false },
      };
    }
    const ctx = { provider: this.id, kind: 'llm' as const, secrets: [this.secret] };
    // Tool-call deltas arrive as fragments keyed by index; assembled here and emitted whole at finish.
    const calls: { id: string; name: string; arguments: string }[] = [];
    let finishReason: string | undefined;
    timing.requestSentAt = performance.now();
    try {
      const stream = await this.client.chat.completions.create(params, { signal });
      for await (const chunk of stream as AsyncIterable<ChatCompletionChunk>) {
        timing.firstByteAt ??= performance.now();
        if (chunk.usage) {
          yield {
            type: 'usage',
            promptTokens: chunk.usage.prompt_tokens,
            completionTokens: chunk.usage.completion_tokens,
          };
        }
        const choice = chunk.choices?.[0];
        if (!choice) continue;
        const delta = choice.delta;
        if (delta?.content) yield { type: 'text', delta: delta.content };
        for (const tc of delta?.tool_calls ?? []) {
          let slot = calls[tc.index];
          if (!slot) {
            slot = { id: '', name: '', arguments: '' };
            calls[tc.index] = slot;
          }
          if (tc.id) slot.id = tc.id;
          if (tc.function?.name) slot.name += tc.function.name;
          if (tc.function?.arguments) slot.arguments += tc.function.arguments;
        }
        if (choice.finish_reason) {
          finishReason = choice.finish_reason;
          for (const [i, c] of calls.entries()) {
            if (c)
              yield {
                type: 'tool_call',
                call: { id: c.id || `call_${i}`, name: c.name, arguments: c.arguments || '{}' },
              };
          }
          calls.length = 0;
        }
      }
    } catch (err) {
      if (signal.aborted) throw abortedError(this.id, 'llm');
      throw classify(err, ctx);
    }
    if (finishReason === undefined) {
      // A dropped connection can end the SSE body without an error; a stream without finish_reason is truncated.
      throw new ProviderError({
        provider: this.id,
        kind: 'llm',
        code: 'connection',
        message: 'openai llm: stream ended before finish_reason',
      });
    }
    timing.doneAt = performance.now();
    yield { type: 'done', finishReason };
  }
}
