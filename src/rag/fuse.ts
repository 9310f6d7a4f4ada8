/**
 * Reciprocal-rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): score(d) = Σ 1 / (k + rank_i(d)), ranks from 1.
 * Ranks, not raw scores, so BM25 and cosine never need a common scale. We divide by the best possible score
 * (rank 1 in every list) so fused scores read 0..1.
 */
export const RRF_K = 60;

export function rrfFuse<T>(
  lists: readonly (readonly T[])[],
  key: (item: T) => string,
  k = RRF_K,
): { item: T; score: number }[] {
  const acc = new Map<string, { item: T; score: number }>();
  for (const list of lists) {
    list.forEach((item, i) => {
      const id = key(item);
      const add = 1 / (k + i + 1);
      const e = acc.get(id);
      if (e) e.score += add;
      else acc.set(id, { item, score: add });
    });
  }
  const best = lists.length / (k + 1);
  const out = [...acc.values()];
  for (const e of out) e.score /= best;
  return out.sort((a, b) => b.score - a.score);
}
