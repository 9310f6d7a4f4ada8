/**
 * The pacer lag histogram of an in-process engine (bench load): the lateness of every tick of the shared pacing
 * clock vs its 10 ms schedule, which is what a blocked event loop (GC pause, synchronous work) shows. Samples go
 * into a buffer allocated once; recording starts when the run reaches its steady state.
 */
export const PACER_LAG_BUCKETS_MS = [0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 100, 250];

export interface PacerLagSummary {
  p50: number;
  p99: number;
  max: number;
  ticks: number;
  /** Ticks by lateness bucket (`<=N` ms, then `>250`). */
  histogram: Record<string, number>;
}

export class PacerLagRecorder {
  private readonly samples: Float64Array;
  private n = 0;
  recording = false;

  constructor(durationS: number, tickMs = 10) {
    // Room for the whole run at the nominal rate, twice over (ticks are late, never early, but a margin is cheap).
    this.samples = new Float64Array(Math.ceil(((durationS + 5) * 1000) / tickMs) * 2);
  }

  /** The Pacer's onTickLate. */
  readonly record = (lateMs: number): void => {
    if (this.recording && this.n < this.samples.length) this.samples[this.n++] = Math.max(0, lateMs);
  };

  summary(): PacerLagSummary {
    const s = this.samples.subarray(0, this.n).sort();
    const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : 0);
    const histogram: Record<string, number> = {};
    let i = 0;
    for (const le of PACER_LAG_BUCKETS_MS) {
      let c = 0;
      while (i < s.length && s[i]! <= le) {
        c++;
        i++;
      }
      histogram[`<=${le}`] = c;
    }
    histogram[`>${PACER_LAG_BUCKETS_MS.at(-1)}`] = s.length - i;
    const r = (x: number) => Math.round(x * 100) / 100;
    return { p50: r(at(0.5)), p99: r(at(0.99)), max: r(s.length ? s[s.length - 1]! : 0), ticks: s.length, histogram };
  }
}
