import OpenAI from 'openai';

/**
 * The one OpenAI client factory (LLM, ASR upload, TTS, embeddings, the catalog's model list; post-call work goes
 * through the LLM adapter). The SDK's own retries are off: retries, timeouts and fallback are the resilience
 * wrapper's (src/providers/resilience.ts), so that one policy decides. Undefined without a key or a base URL: a
 * base URL alone is a local OpenAI-compatible server (Ollama, vLLM, llama.cpp) that does not check keys.
 */
export interface OpenAiClientOptions {
  apiKey?: string;
  baseURL?: string;
  /** Per request, ms. */
  timeoutMs: number;
}

export function openAiClient(o: OpenAiClientOptions): OpenAI | undefined {
  if (!o.apiKey && !o.baseURL) return undefined;
  return new OpenAI({ apiKey: o.apiKey ?? 'none', baseURL: o.baseURL, maxRetries: 0, timeout: o.timeoutMs });
}
