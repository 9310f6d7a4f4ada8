/**
 * Cost estimate before indexing. Tokens are approximated as characters / 4 (OpenAI's rule of thumb for English
 * with cl100k/o200k tokenizers); prices are USD per million input tokens from the providers' public price lists.
 */
export const EMBEDDING_PRICE_PER_MTOK: Readonly<Record<string, number>> = {
  'text-embedding-3-small': 0.02,
  'text-embedding-3-large': 0.13,
  'text-embedding-ada-002': 0.1,
};

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function embeddingCostUsd(model: string | undefined, tokens: number): number {
  const price = model ? EMBEDDING_PRICE_PER_MTOK[model] : undefined;
  return price === undefined ? 0 : (tokens * price) / 1e6;
}
