/** Small figures helpers shared by the bench suites. */
export function round(n: number, d = 2): number {
  const f = 10 ** d;
  return Math.round(n * f) / f;
}

/** The p-th percentile of an ascending array (nearest rank); 0 when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A one-row table from column specs: the header row, then each column's value as text. */
export function columnsOf<T>(r: T, spec: ReadonlyArray<readonly [string, (r: T) => unknown]>): string[][] {
  return [spec.map(([h]) => h), spec.map(([, value]) => String(value(r)))];
}
