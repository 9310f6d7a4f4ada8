/**
 * DTMF (ITU-T Q.23 frequencies, Q.24 reception limits): a streaming detector at 8 kHz and a generator.
 *
 * Detector outline. Samples are cut into sub-blocks of HOP = 34 samples (4.25 ms). For each sub-block one Goertzel
 * per DTMF frequency gives the complex DFT value at that frequency; three consecutive sub-blocks are combined (with
 * the phase rotation of each sub-block's start) into the exact DFT of a WIN = 102 sample window (12.75 ms, bin
 * width 78 Hz). So every 4.25 ms a full 102-sample window is evaluated for the cost of one non-overlapped Goertzel
 * bank. Each window is a "hit" for digit d when:
 *   - both the strongest row and the strongest column tone exceed MIN_TONE_ENERGY (about -42 dBm0 per tone);
 *   - twist (high group minus low group) is within [-10, +6] dB (Q.24 requires accepting +4 / -8 dB);
 *   - the other three bins of each group are 8 dB below the tone, once the two tones' leakage is removed;
 *   - the fitted two-tone signal carries at least TONE_TO_TOTAL = 85% of the window energy (talk-off: speech and
 *     music spread energy over more partials). Tone amplitudes come from a 2x2 solve that removes the leakage of
 *     each tone into the other's bin, corrected for the scalloping loss of an off-bin tone; without that the
 *     estimate beats by +/-20% for the closest pair (941/1209 Hz) and the threshold would have to stay loose;
 *   - 2nd and 3rd harmonics of both tones (Hann-windowed) are 15 dB below the fundamental (talk-off);
 *   - the frequency offset measured from the phase advance between consecutive windows is under 5% (coarse).
 * A digit starts after MIN_HITS consecutive hit windows (Q.24 duration limits: accept 40 ms, reject 20 ms) AND the
 * mean frequency offset over the run, measured as accumulated phase over the whole run, is within MAX_DEVIATION = 2.5% (Q.24: accept 1.5%, reject 3.5%). Measured: tones of 36 ms and more are
 * always accepted, 28 ms and less never. A digit ends after MIN_MISSES consecutive windows without it: dropouts up
 * to 15 ms are bridged, pauses of 25 ms and more always separate two digits (Q.24: a 40 ms pause).
 *
 * Levels: 0 dBm0 is the G.711 mu-law convention (ITU-T G.711 table 2a: the overload point, +/-8159 in 14-bit units,
 * i.e. +/-32636 in 16-bit PCM, is +3.17 dBm0). So a 0 dBm0 sine has peak 22,663 and RMS 16,025 in 16-bit PCM.
 */

import { resample } from './resample.js';

export interface DtmfEvent {
  digit: string;
  /** ms of audio pushed since construction/reset */
  startMs: number;
  endMs: number;
}

export interface DtmfDetectorOptions {
  /** only 8000 is supported; resample first (see detectDtmfInPcm) */
  sampleRate?: 8000;
  onDigit: (e: DtmfEvent) => void;
  onDigitStart?: (digit: string, startMs: number) => void;
}

export const DTMF_ROW_HZ: readonly number[] = [697, 770, 852, 941];
export const DTMF_COL_HZ: readonly number[] = [1209, 1336, 1477, 1633];
/** keypad layout: digit = KEYS[row * 4 + col] */
const KEYS = '123A456B789C*0#D';

/** RMS of a 0 dBm0 sine in 16-bit PCM (see header). */
export const DBM0_RMS = 32636 / 10 ** (3.17 / 20) / Math.SQRT2;

const RATE = 8000;
const HOP = 34;
const SUBS = 3;
const WIN = HOP * SUBS;

const MIN_TONE_ENERGY = WIN * DBM0_RMS ** 2 * 10 ** (-42 / 10);
const NORMAL_TWIST = 10 ** (6 / 10);
const REVERSE_TWIST = 10 ** (10 / 10);
const RELATIVE_PEAK = 10 ** (8 / 10);
const TONE_TO_TOTAL = 0.85;
const HARMONIC = 10 ** (-15 / 10);
const COARSE_DEVIATION = 0.05;
const MAX_DEVIATION = 0.025;
const MIN_HITS = 6;
const MIN_MISSES = 7;
/** skip the 2nd-harmonic check of a row tone when it lies this close to the column tone (Hz; Hann main lobe) */
const HARMONIC_GUARD_HZ = 180;

const FREQS = [...DTMF_ROW_HZ, ...DTMF_COL_HZ];
const OMEGA = Float64Array.from(FREQS, (f) => (2 * Math.PI * f) / RATE);
const COEF = Float64Array.from(OMEGA, (w) => 2 * Math.cos(w));
const COS_W = Float64Array.from(OMEGA, (w) => Math.cos(w));
const SIN_W = Float64Array.from(OMEGA, (w) => Math.sin(w));
/**
 * Rotations that turn the three sub-blocks' Goertzel outputs into the exact DFT value of the window, phase-referenced
 * to the window's first sample: a Goertzel output is e^{j w (HOP-1)} times the sub-block's DFT value, and sub-block i
 * starts i * HOP samples into the window. Ri = e^{-j w (HOP-1)} * e^{-j w i HOP}.
 */
const ROT_RE = new Float64Array(SUBS * 8);
const ROT_IM = new Float64Array(SUBS * 8);
for (let i = 0; i < SUBS; i++) {
  for (let k = 0; k < 8; k++) {
    const p = -OMEGA[k]! * (HOP - 1 + i * HOP);
    ROT_RE[i * 8 + k] = Math.cos(p);
    ROT_IM[i * 8 + k] = Math.sin(p);
  }
}
/**
 * Leakage between bins: a tone of complex amplitude a at the frequency of bin j adds a * S(j, k) into bin k, with
 * S(j, k) = sum_{n<WIN} e^{j (w_j - w_k) n} (index j * 8 + k). The nearest row/column pair (941 / 1209 Hz) is only
 * 3.4 bins apart, where the rectangular window's side lobes are -21 dB: enough to move the weaker tone's measured
 * energy by +/-20% as the two phases beat, and to lift a neighbouring bin near the relative-peak limit under
 * reverse twist. Solving the 2x2 system for the two tones, and subtracting their predicted leakage from the other
 * bins, removes both effects.
 */
const LEAK_RE = new Float64Array(64);
const LEAK_IM = new Float64Array(64);
for (let j = 0; j < 8; j++) {
  for (let k = 0; k < 8; k++) {
    const d = OMEGA[j]! - OMEGA[k]!;
    for (let n = 0; n < WIN; n++) {
      LEAK_RE[j * 8 + k]! += Math.cos(d * n);
      LEAK_IM[j * 8 + k]! += Math.sin(d * n);
    }
  }
}
const HANN = Float64Array.from({ length: WIN }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * (n + 0.5)) / WIN));

const TWO_PI = 2 * Math.PI;

function wrapPhase(p: number): number {
  let x = p % TWO_PI;
  if (x > Math.PI) x -= TWO_PI;
  else if (x < -Math.PI) x += TWO_PI;
  return x;
}

/** Energy gain of a WIN-point rectangular DFT bin for a tone delta rad/sample off the bin (scalloping loss). */
function scallopGain(delta: number): number {
  const half = delta / 2;
  if (Math.abs(half) < 1e-9) return 1;
  const g = Math.sin(half * WIN) / (WIN * Math.sin(half));
  return g * g;
}

export class DtmfDetector {
  private readonly onDigit: (e: DtmfEvent) => void;
  private readonly onDigitStart: ((digit: string, startMs: number) => void) | undefined;

  // Goertzel state of the sub-block being filled
  private readonly s1 = new Float64Array(8);
  private readonly s2 = new Float64Array(8);
  private fill = 0;
  private subEnergyAcc = 0;
  // last SUBS sub-blocks: DFT values (slot * 8 + k) and energies
  private readonly subRe = new Float64Array(SUBS * 8);
  private readonly subIm = new Float64Array(SUBS * 8);
  private readonly subEnergy = new Float64Array(SUBS);
  private head = 0;
  private subsDone = 0;
  // last window's DFT values, for the phase-advance frequency estimate
  private readonly prevRe = new Float64Array(8);
  private readonly prevIm = new Float64Array(8);
  private readonly curRe = new Float64Array(8);
  private readonly curIm = new Float64Array(8);
  private readonly energy = new Float64Array(8);
  // raw samples of the current window, for the harmonic check
  private readonly ring = new Float64Array(WIN);
  private ringPos = 0;
  // per-window frequency offsets (fraction) of the best row/column of the last evaluation
  private devRow = 0;
  private devCol = 0;

  // decision state (window units)
  private candidate = -1;
  private hitRun = 0;
  private runStartSample = 0;
  private runPhaseRow = 0;
  private runPhaseCol = 0;
  private runPhaseCount = 0;
  private lastHit = -1;
  private current = -1;
  private currentStartSample = 0;
  private lastHitEndSample = 0;
  private missRun = 0;

  constructor(opts: DtmfDetectorOptions) {
    if (opts.sampleRate !== undefined && opts.sampleRate !== RATE) {
      throw new RangeError(`DtmfDetector works at 8000 Hz only (got ${opts.sampleRate}); resample first`);
    }
    this.onDigit = opts.onDigit;
    this.onDigitStart = opts.onDigitStart;
  }

  /** Feed PCM16 at 8 kHz, any length. No allocation per call. */
  push(pcm: Int16Array): void {
    const n = pcm.length;
    const s1 = this.s1;
    const s2 = this.s2;
    const ring = this.ring;
    let i = 0;
    while (i < n) {
      const take = Math.min(HOP - this.fill, n - i);
      const end = i + take;
      for (let k = 0; k < 8; k++) {
        const c = COEF[k]!;
        let a = s1[k]!;
        let b = s2[k]!;
        for (let j = i; j < end; j++) {
          const t = pcm[j]! + c * a - b;
          b = a;
          a = t;
        }
        s1[k] = a;
        s2[k] = b;
      }
      let e = this.subEnergyAcc;
      let pos = this.ringPos;
      for (let j = i; j < end; j++) {
        const x = pcm[j]!;
        e += x * x;
        ring[pos] = x;
        pos = pos === WIN - 1 ? 0 : pos + 1;
      }
      this.subEnergyAcc = e;
      this.ringPos = pos;
      this.fill += take;
      i = end;
      if (this.fill === HOP) this.finishSubBlock();
    }
  }

  /** End of stream: report a digit still in progress, keep the time base. A partial sub-block is dropped. */
  flush(): void {
    if (this.current >= 0) this.endCurrent();
    this.candidate = -1;
    this.hitRun = 0;
    this.lastHit = -1;
    this.missRun = 0;
  }

  /** Forget everything, including the time base. */
  reset(): void {
    this.s1.fill(0);
    this.s2.fill(0);
    this.fill = 0;
    this.subEnergyAcc = 0;
    this.subsDone = 0;
    this.head = 0;
    this.ring.fill(0);
    this.ringPos = 0;
    this.candidate = -1;
    this.hitRun = 0;
    this.lastHit = -1;
    this.current = -1;
    this.missRun = 0;
  }

  private finishSubBlock(): void {
    const slot = this.head;
    const base = slot * 8;
    for (let k = 0; k < 8; k++) {
      // Goertzel output s1 - e^{-jw} s2 is the DFT value up to a constant phase that is the same for every
      // sub-block, so neither window magnitudes nor phase differences depend on it.
      const a = this.s1[k]!;
      const b = this.s2[k]!;
      this.subRe[base + k] = a - COS_W[k]! * b;
      this.subIm[base + k] = SIN_W[k]! * b;
      this.s1[k] = 0;
      this.s2[k] = 0;
    }
    this.subEnergy[slot] = this.subEnergyAcc;
    this.subEnergyAcc = 0;
    this.fill = 0;
    this.head = slot === SUBS - 1 ? 0 : slot + 1;
    this.subsDone++;
    if (this.subsDone >= SUBS) this.decide(this.evaluateWindow());
  }

  /** Returns the digit index (0..15) this window is a hit for, or -1. */
  private evaluateWindow(): number {
    // oldest sub-block is at head (just advanced), then head+1, newest at head+2
    const oa = this.head * 8;
    const ob = ((this.head + 1) % SUBS) * 8;
    const oc = ((this.head + 2) % SUBS) * 8;
    const haveprev = this.subsDone > SUBS;
    const energy = this.energy;
    for (let k = 0; k < 8; k++) {
      const aRe = this.subRe[oa + k]!;
      const aIm = this.subIm[oa + k]!;
      const bRe = this.subRe[ob + k]!;
      const bIm = this.subIm[ob + k]!;
      const cRe = this.subRe[oc + k]!;
      const cIm = this.subIm[oc + k]!;
      const r0 = ROT_RE[k]!;
      const i0 = ROT_IM[k]!;
      const r1 = ROT_RE[8 + k]!;
      const i1 = ROT_IM[8 + k]!;
      const r2 = ROT_RE[16 + k]!;
      const i2 = ROT_IM[16 + k]!;
      const re = aRe * r0 - aIm * i0 + bRe * r1 - bIm * i1 + cRe * r2 - cIm * i2;
      const im = aRe * i0 + aIm * r0 + bRe * i1 + bIm * r1 + cRe * i2 + cIm * r2;
      this.prevRe[k] = this.curRe[k]!;
      this.prevIm[k] = this.curIm[k]!;
      this.curRe[k] = re;
      this.curIm[k] = im;
      energy[k] = (2 * (re * re + im * im)) / WIN;
    }
    const total = this.subEnergy[0]! + this.subEnergy[1]! + this.subEnergy[2]!;

    let row = 0;
    for (let k = 1; k < 4; k++) if (energy[k]! > energy[row]!) row = k;
    let col = 4;
    for (let k = 5; k < 8; k++) if (energy[k]! > energy[col]!) col = k;
    let eRow = energy[row]!;
    let eCol = energy[col]!;
    if (eRow < MIN_TONE_ENERGY || eCol < MIN_TONE_ENERGY) return -1;

    // Frequency offset from the phase advance over one hop: arg(W_t conj W_{t-1}) = (w + delta) * HOP.
    let dRow = 0;
    let dCol = 0;
    if (haveprev) {
      dRow = this.phaseOffset(row) / HOP;
      dCol = this.phaseOffset(col) / HOP;
    }
    const devRow = dRow / OMEGA[row]!;
    const devCol = dCol / OMEGA[col]!;
    if (Math.abs(devRow) > COARSE_DEVIATION || Math.abs(devCol) > COARSE_DEVIATION) return -1;
    this.devRow = devRow;
    this.devCol = devCol;
    // true tone energies: remove the cross-leakage between the two tones, then undo the scalloping loss of an
    // off-bin tone, so that twist and the energy ratio are measured on the tones themselves
    // S = leakage of the column tone into the row bin; the row tone leaks conj(S) into the column bin
    const li = col * 8 + row;
    const sRe = LEAK_RE[li]!;
    const sIm = LEAK_IM[li]!;
    const wrRe = this.curRe[row]!;
    const wrIm = this.curIm[row]!;
    const wcRe = this.curRe[col]!;
    const wcIm = this.curIm[col]!;
    const det = WIN * WIN - (sRe * sRe + sIm * sIm);
    // a_row = (N W_row - S W_col) / det ; a_col = (N W_col - conj(S) W_row) / det
    const arRe = (WIN * wrRe - (sRe * wcRe - sIm * wcIm)) / det;
    const arIm = (WIN * wrIm - (sRe * wcIm + sIm * wcRe)) / det;
    const acRe = (WIN * wcRe - (sRe * wrRe + sIm * wrIm)) / det;
    const acIm = (WIN * wcIm - (sRe * wrIm - sIm * wrRe)) / det;
    const gRow = scallopGain(dRow);
    const gCol = scallopGain(dCol);
    eRow = (2 * WIN * (arRe * arRe + arIm * arIm)) / gRow;
    eCol = (2 * WIN * (acRe * acRe + acIm * acIm)) / gCol;
    // Energy of the fitted two-tone signal over the window, beat (cross) term included, as the window's total
    // energy includes it too: 2 Re(conj(a) W) per tone (least-squares projection).
    const model = (2 * (arRe * wrRe + arIm * wrIm)) / gRow + (2 * (acRe * wcRe + acIm * wcIm)) / gCol;

    // relative peak: every other bin of each group, after removing the two tones' leakage, 8 dB below its tone
    for (let k = 0; k < 8; k++) {
      if (k === row || k === col) continue;
      const lr = row * 8 + k;
      const lc = col * 8 + k;
      const re =
        this.curRe[k]! - (arRe * LEAK_RE[lr]! - arIm * LEAK_IM[lr]!) - (acRe * LEAK_RE[lc]! - acIm * LEAK_IM[lc]!);
      const im =
        this.curIm[k]! - (arRe * LEAK_IM[lr]! + arIm * LEAK_RE[lr]!) - (acRe * LEAK_IM[lc]! + acIm * LEAK_RE[lc]!);
      if (((2 * (re * re + im * im)) / WIN) * RELATIVE_PEAK > (k < 4 ? eRow : eCol)) return -1;
    }
    if (eCol > eRow * NORMAL_TWIST || eRow > eCol * REVERSE_TWIST) return -1;
    if (model < TONE_TO_TOTAL * total) return -1;
    if (!this.harmonicsClean(row, col, eRow, eCol)) return -1;
    return (row << 2) | (col - 4);
  }

  /** Phase advance of bin k between the previous and this window, minus the bin's own advance (rad per HOP). */
  private phaseOffset(k: number): number {
    const re = this.curRe[k]! * this.prevRe[k]! + this.curIm[k]! * this.prevIm[k]!;
    const im = this.curIm[k]! * this.prevRe[k]! - this.curRe[k]! * this.prevIm[k]!;
    return wrapPhase(Math.atan2(im, re) - OMEGA[k]! * HOP);
  }

  /** 2nd and 3rd harmonics (below 3.8 kHz) of both tones must be HARMONIC below their fundamental. */
  private harmonicsClean(row: number, col: number, eRow: number, eCol: number): boolean {
    const fRow = FREQS[row]! * (1 + this.devRow);
    const fCol = FREQS[col]! * (1 + this.devCol);
    if (Math.abs(2 * fRow - fCol) > HARMONIC_GUARD_HZ && this.hannEnergy(2 * fRow) > eRow * HARMONIC) return false;
    if (this.hannEnergy(3 * fRow) > eRow * HARMONIC) return false;
    if (this.hannEnergy(2 * fCol) > eCol * HARMONIC) return false;
    if (3 * fCol < 3800 && this.hannEnergy(3 * fCol) > eCol * HARMONIC) return false;
    return true;
  }

  /** Tone energy at f Hz over the current window, Hann-windowed (low leakage from the two DTMF tones). */
  private hannEnergy(f: number): number {
    const c = 2 * Math.cos((2 * Math.PI * f) / RATE);
    const ring = this.ring;
    let pos = this.ringPos; // oldest sample of the window
    let a = 0;
    let b = 0;
    for (let n = 0; n < WIN; n++) {
      const t = ring[pos]! * HANN[n]! + c * a - b;
      b = a;
      a = t;
      pos = pos === WIN - 1 ? 0 : pos + 1;
    }
    // |X|^2 = a^2 + b^2 - c*a*b; a tone of energy E gives |X|^2 = E * WIN / 8 through a Hann window
    return (8 * (a * a + b * b - c * a * b)) / WIN;
  }

  private decide(hit: number): void {
    const windowEnd = this.subsDone * HOP;
    if (hit >= 0 && hit === this.candidate) {
      this.hitRun++;
      if (this.lastHit === hit) {
        this.runPhaseRow += this.devRow;
        this.runPhaseCol += this.devCol;
        this.runPhaseCount++;
      }
    } else {
      this.candidate = hit;
      this.hitRun = hit >= 0 ? 1 : 0;
      this.runStartSample = windowEnd - WIN;
      this.runPhaseRow = 0;
      this.runPhaseCol = 0;
      this.runPhaseCount = 0;
    }
    this.lastHit = hit;

    if (this.current >= 0) {
      if (hit === this.current) {
        this.missRun = 0;
        this.lastHitEndSample = windowEnd;
        return;
      }
      this.missRun++;
      if (this.missRun >= MIN_MISSES) this.endCurrent();
    }
    if (this.current < 0 && this.candidate >= 0 && this.hitRun >= MIN_HITS && this.runPhaseCount > 0) {
      // mean offset over the run (Q.24: accept 1.5%, reject 3.5%); averaging cancels the beat between tones
      const mRow = this.runPhaseRow / this.runPhaseCount;
      const mCol = this.runPhaseCol / this.runPhaseCount;
      if (Math.abs(mRow) <= MAX_DEVIATION && Math.abs(mCol) <= MAX_DEVIATION) {
        this.current = this.candidate;
        this.currentStartSample = this.runStartSample;
        this.lastHitEndSample = windowEnd;
        this.missRun = 0;
        this.onDigitStart?.(KEYS[this.current]!, Math.round((this.currentStartSample * 1000) / RATE));
      }
    }
  }

  private endCurrent(): void {
    const digit = KEYS[this.current]!;
    this.current = -1;
    this.missRun = 0;
    this.onDigit({
      digit,
      startMs: Math.round((this.currentStartSample * 1000) / RATE),
      endMs: Math.round((this.lastHitEndSample * 1000) / RATE),
    });
  }
}

export interface GenerateDtmfOptions {
  /** Hz, default 8000 */
  sampleRate?: number;
  /** tone length in ms, default 100 */
  toneMs?: number;
  /** silence after each digit in ms, default 100 */
  gapMs?: number;
  /** total power of the tone pair in dBm0 (see DBM0_RMS), default -10 */
  levelDbm0?: number;
  /** high-group level minus low-group level in dB, default 0 */
  twistDb?: number;
  /** relative frequency offset applied to both tones, e.g. 0.015 for +1.5%; default 0 */
  freqDeviation?: number;
}

/** DTMF digits as PCM16: each digit's tone pair then a gap. Throws RangeError on a character outside 0-9 * # A-D. */
export function generateDtmf(digits: string, opts: GenerateDtmfOptions = {}): Int16Array {
  const rate = opts.sampleRate ?? RATE;
  const toneLen = Math.round(((opts.toneMs ?? 100) * rate) / 1000);
  const gapLen = Math.round(((opts.gapMs ?? 100) * rate) / 1000);
  const power = DBM0_RMS ** 2 * 10 ** ((opts.levelDbm0 ?? -10) / 10);
  const twist = 10 ** ((opts.twistDb ?? 0) / 10);
  const lowAmp = Math.sqrt((2 * power) / (1 + twist));
  const highAmp = lowAmp * Math.sqrt(twist);
  const dev = 1 + (opts.freqDeviation ?? 0);
  const out = new Int16Array(digits.length * (toneLen + gapLen));
  for (let d = 0; d < digits.length; d++) {
    const ch = digits[d]!.toUpperCase();
    const idx = KEYS.indexOf(ch);
    if (idx < 0) throw new RangeError(`not a DTMF digit: '${digits[d]}'`);
    const wl = (2 * Math.PI * DTMF_ROW_HZ[idx >> 2]! * dev) / rate;
    const wh = (2 * Math.PI * DTMF_COL_HZ[idx & 3]! * dev) / rate;
    const off = d * (toneLen + gapLen);
    for (let n = 0; n < toneLen; n++) {
      const v = Math.round(lowAmp * Math.sin(wl * n) + highAmp * Math.sin(wh * n));
      out[off + n] = Math.max(-32768, Math.min(32767, v));
    }
  }
  return out;
}

/** Detect digits in a whole signal at any rate (resampled to 8 kHz first). Allocates; for files and tests. */
export function detectDtmfInPcm(pcm: Int16Array, sampleRate: number): DtmfEvent[] {
  const events: DtmfEvent[] = [];
  const det = new DtmfDetector({ onDigit: (e) => events.push(e) });
  det.push(sampleRate === RATE ? pcm : resample(pcm, sampleRate, RATE));
  det.flush();
  return events;
}
