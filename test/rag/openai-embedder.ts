/**
 * A minimal EmbedProvider over the real `openai` SDK, for tests only: src/providers/embed/openai.ts (another
 * engineer's) did not exist when these tests were written. Same wire protocol: POST /v1/embeddings.
 */
import OpenAI from 'openai';
import type { EmbedProvider } from '../../src/providers/types.js';

export function openAiEmbedder(baseURL: string, apiKey: string, model: string, dimensions: number): EmbedProvider {
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
  return {
    id: 'openai',
    model,
    dimensions,
    async embed(texts, signal) {
      const res = await client.embeddings.create({ model, input: texts, dimensions }, { signal });
      return res.data.sort((a, b) => a.index - b.index).map((d) => Float32Array.from(d.embedding));
    },
  };
}
