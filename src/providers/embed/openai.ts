/**
 * OpenAI embeddings (and compatible servers: Ollama, vLLM, LocalAI via baseURL). There is no offline embedder:
 * without one, RAG falls back to full-text search.
 */
import type OpenAI from 'openai';
import { classify, unavailable } from '../classify.js';
import { openAiClient } from '../openai-client.js';
import type { EmbedProvider } from '../types.js';

export interface OpenAiEmbedOptions {
  apiKey?: string;
  baseURL?: string;
  model?: string;
  dimensions?: number;
}

export const OPENAI_EMBED_MODEL = 'text-embedding-3-small';
/** text-embedding-3-small's native size; asked for explicitly so compatible servers answer the same. */
export const OPENAI_EMBED_DIMENSIONS = 1536;

export class OpenAiEmbed implements EmbedProvider {
  readonly id = 'openai';
  readonly model: string;
  readonly dimensions: number;
  private readonly client: OpenAI | undefined;

  constructor(private readonly opts: OpenAiEmbedOptions) {
    this.model = opts.model ?? OPENAI_EMBED_MODEL;
    this.dimensions = opts.dimensions ?? OPENAI_EMBED_DIMENSIONS;
    this.client = openAiClient({ apiKey: opts.apiKey, baseURL: opts.baseURL, timeoutMs: 60_000 });
  }

  async embed(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (!this.client) throw unavailable(this.id, 'embed', 'openai embeddings: set OPENAI_API_KEY or OPENAI_BASE_URL');
    if (texts.length === 0) return [];
    try {
      // base64 is about a third the size of a JSON float list. Asked for explicitly, the SDK hands the base64 string
      // back untouched (it decodes only when it chose base64 itself); decoded here straight into a Float32Array.
      const res = await this.client.embeddings.create(
        { model: this.model, input: texts, dimensions: this.dimensions, encoding_format: 'base64' },
        { signal },
      );
      const out = new Array<Float32Array>(texts.length);
      for (const d of res.data) {
        const e = d.embedding as unknown;
        out[d.index] =
          typeof e === 'string'
            ? new Float32Array(new Uint8Array(Buffer.from(e, 'base64')).buffer)
            : Float32Array.from(e as number[]);
      }
      return out;
    } catch (err) {
      throw classify(err, { provider: this.id, kind: 'embed', secrets: [this.opts.apiKey] });
    }
  }
}
