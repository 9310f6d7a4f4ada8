/**
 * Answering-machine beep detector: a streaming single-tone detector, in the Goertzel family of the DTMF one
 * (dtmf.ts), for the "record after the tone" beep that voicemail systems play (one sine, 400-1000 Hz in practice,
 * 100 ms to 1 s long).
 *
 * Outline. Samples are cut into blocks of 20 ms (160 samples at 8 kHz; rectangular window, bin width 50 Hz). Per
 * block, one Goertzel per candidate frequency, MIN_HZ..MAX_HZ every STEP_HZ (half a bin, so an off-grid tone loses
 * at most sinc(1/8)^2 = 0.95 of its power to scalloping), gives the power at that frequency. A block is a "hit" when
 *   - the strongest bin carries at least TONE_TO_TOTAL of the block's energy (a sine: 0.95-1; speech and music
 *     spread their energy over harmonics and formants; noise over the whole band);
 *   - the tone is louder than MIN_TONE_DBFS (RMS);
 *   - it is the same tone as the previous hit block: peak within one grid step (12.5 Hz) of the run's first peak,
 *     and energy within MAX_STEP_DB of the previous block (a beep's level is flat; a vowel's is not).
 * A beep starts after MIN_MS of consecutive hit blocks (a carrier beep is 120 ms or more; a sustained sung or
 * spoken vowel keeps a harmonic in one bin for much less) and ends at the first block that is not a hit.
 * Per sample: one multiply-add per candidate bin (61 bins); no allocation after construction.
 */

export interface BeepEvent {
  /** Estimated frequency, Hz. */
  hz: number;
  /** ms of audio pushed since construction / reset. */
  startMs: number;
  endMs: number;
}

export interface BeepDetectorOptions {
  /** Sample rate of the PCM pushed, Hz (8000 by default; any rate >= 4 kHz). */
  sampleRate?: number;
  /** Shortest tone reported, ms (default 120). */
  minMs?: number;
  /** A tone has lasted `minMs`: reported as soon as it qualifies (the beep is still playing). */
  onBeepStart?: (hz: number, startMs: number) => void;
  /** A qualifying tone ended. */
  onBeep?: (e: BeepEvent) => void;
}

export const BEEP_MIN_HZ = 350;
export const BEEP_MAX_HZ = 1100;
const STEP_HZ = 12.5;
const BLOCK_MS = 20;
const TONE_TO_TOTAL = 0.9;
const MIN_TONE_DBFS = -42;
const MAX_STEP_DB = 3;

const BINS = Math.floor((BEEP_MAX_HZ - BEEP_MIN_HZ) / STEP_HZ) + 1;
const MAX_STEP = 10 ** (MAX_STEP_DB / 10);

export class BeepDetector {
  private readonly block: number;
  private readonly minHits: number;
  private readonly coef: Float64Array;
  private readonly s1: Float64Array;
  private readonly s2: Float64Array;
  private readonly minToneEnergy: number;
  private readonly opts: BeepDetectorOptions;
  private n = 0;
  private energy = 0;
  private blocks = 0;
  /** Current run of hit blocks: length, first block index, peak bin at its start, last block energy, Hz sum. */
  private hits = 0;
  private runStart = 0;
  private runBin = -1;
  private lastEnergy = 0;
  private hzSum = 0;
  private reported = false;

  constructor(opts: BeepDetectorOptions = {}) {
    const rate = opts.sampleRate ?? 8000;
    if (rate < 4000) throw new RangeError(`beep detector: sample rate ${rate} Hz is too low`);
    this.opts = opts;
    this.block = Math.round((rate * BLOCK_MS) / 1000);
    this.minHits = Math.max(2, Math.ceil((opts.minMs ?? 120) / BLOCK_MS));
    this.coef = new Float64Array(BINS);
    for (let k = 0; k < BINS; k++) this.coef[k] = 2 * Math.cos((2 * Math.PI * (BEEP_MIN_HZ + k * STEP_HZ)) / rate);
    this.s1 = new Float64Array(BINS);
    this.s2 = new Float64Array(BINS);
    // Block energy (sum of squares, 16-bit units) of a sine whose RMS is MIN_TONE_DBFS.
    this.minToneEnergy = this.block * (32768 * 10 ** (MIN_TONE_DBFS / 20)) ** 2;
  }

  /** A tone is on the line and has already qualified (between onBeepStart and onBeep). */
  get active(): boolean {
    return this.reported;
  }

  /** Audio pushed so far, ms. */
  get audioMs(): number {
    return ((this.blocks * this.block + this.n) * BLOCK_MS) / this.block;
  }

  reset(): void {
    this.s1.fill(0);
    this.s2.fill(0);
    this.n = 0;
    this.energy = 0;
    this.blocks = 0;
    this.hits = 0;
    this.runBin = -1;
    this.reported = false;
  }

  push(pcm: Int16Array): void {
    const { coef, s1, s2, block } = this;
    for (let i = 0; i < pcm.length; i++) {
      const x = pcm[i]!;
      this.energy += x * x;
      for (let k = 0; k < BINS; k++) {
        const s0 = x + coef[k]! * s1[k]! - s2[k]!;
        s2[k] = s1[k]!;
        s1[k] = s0;
      }
      if (++this.n === block) this.endBlock();
    }
  }

  private endBlock(): void {
    const { coef, s1, s2 } = this;
    let best = -1;
    let bestPower = 0;
    for (let k = 0; k < BINS; k++) {
      const p = s1[k]! * s1[k]! + s2[k]! * s2[k]! - coef[k]! * s1[k]! * s2[k]!;
      if (p > bestPower) {
        bestPower = p;
        best = k;
      }
    }
    // A sine of amplitude A exactly on a bin: |X|^2 = (A N / 2)^2, its energy A^2 N / 2.
    const tone = (2 * bestPower) / this.block;
    const energy = this.energy;
    const hit =
      best >= 0 &&
      energy > 0 &&
      tone >= TONE_TO_TOTAL * energy &&
      tone >= this.minToneEnergy &&
      (this.hits === 0 ||
        (Math.abs(best - this.runBin) <= 1 &&
          energy <= this.lastEnergy * MAX_STEP &&
          energy * MAX_STEP >= this.lastEnergy));
    if (hit) {
      if (this.hits === 0) {
        this.runStart = this.blocks;
        this.runBin = best;
        this.hzSum = 0;
      }
      this.hits++;
      this.hzSum += this.peakHz(best);
      this.lastEnergy = energy;
      if (this.hits === this.minHits) {
        this.reported = true;
        this.opts.onBeepStart?.(this.hzSum / this.hits, this.runStart * BLOCK_MS);
      }
    } else {
      this.endRun();
      // This block may open a new run (a tone right after speech or after another tone).
      if (best >= 0 && energy > 0 && tone >= TONE_TO_TOTAL * energy && tone >= this.minToneEnergy) {
        this.runStart = this.blocks;
        this.runBin = best;
        this.hits = 1;
        this.hzSum = this.peakHz(best);
        this.lastEnergy = energy;
      }
    }
    this.blocks++;
    this.n = 0;
    this.energy = 0;
    s1.fill(0);
    s2.fill(0);
  }

  private endRun(): void {
    if (this.reported) {
      this.opts.onBeep?.({
        hz: Math.round(this.hzSum / this.hits),
        startMs: this.runStart * BLOCK_MS,
        endMs: this.blocks * BLOCK_MS,
      });
    }
    this.reported = false;
    this.hits = 0;
    this.runBin = -1;
  }

  /** The peak's frequency, refined by a parabola through the powers of its neighbours, Hz. */
  private peakHz(k: number): number {
    const a = this.magnitude(k - 1);
    const b = this.magnitude(k);
    const c = this.magnitude(k + 1);
    const d = a - 2 * b + c;
    const off = d === 0 ? 0 : Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / d));
    return BEEP_MIN_HZ + (k + off) * STEP_HZ;
  }

  private magnitude(j: number): number {
    if (j < 0 || j >= BINS) return 0;
    const { coef, s1, s2 } = this;
    return Math.sqrt(Math.max(0, s1[j]! * s1[j]! + s2[j]! * s2[j]! - coef[j]! * s1[j]! * s2[j]!));
  }
}
