/**
 * ITU-T G.722 at 64 kbit/s (mode 1): 16 kHz PCM16 <-> one byte per two samples, the wideband ("HD voice") codec of
 * SIP trunks and desk phones. Written here from the Recommendation's block diagram (no maintained npm package
 * implements it; ffmpeg's adpcm_g722 is the reference the tests compare against, bit for bit).
 *
 *   encode: 2 samples ─▶ transmit QMF ─▶ low band (6-bit ADPCM) + high band (2-bit ADPCM) ─▶ byte (ihigh << 6 | ilow)
 *   decode: byte ─▶ both bands' inverse quantizers and predictors ─▶ receive QMF ─▶ 2 samples
 *
 * The block names (QUANTL, LOGSCL, UPPOL2, ...) are the Recommendation's. All arithmetic is integer: every product
 * stays below 2^31, so JavaScript's `>>` on the float product is exact. Both directions keep their state in typed
 * arrays owned by the instance and write into caller buffers: nothing is allocated per frame.
 *
 * RTP (RFC 3551): payload type 9, `G722/8000` in SDP although it samples at 16 kHz, so timestamps advance by 160 per
 * 20 ms packet of 160 bytes, exactly like G.711.
 */

const QMF = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11] as const;
/** QUANTL decision levels (x det >> 12), for magnitudes 1..29. */
const Q6 = [
  0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023, 1121, 1219, 1339,
  1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0,
] as const;
/** QUANTL output codes for a negative / non-negative difference. */
const ILN = [
  0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4,
  0,
] as const;
const ILP = [
  0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33,
  32, 0,
] as const;
/** 6-bit inverse quantizer (INVQBL, mode 1). */
const QM6 = [
  -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
  -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728, 24808,
  21904, 19008, 16704, 14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008,
  3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
] as const;
/** 4-bit inverse quantizer (INVQAL): what the predictor sees of the low band. */
const QM4 = [
  0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584, 1200, 0,
] as const;
const QM2 = [-7408, -1616, 7408, 1616] as const;
/** LOGSCL / LOGSCH: scale-factor multipliers by quantizer level. */
const WL = [-60, -30, 58, 172, 334, 538, 1198, 3042] as const;
const RL42 = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0] as const;
const WH = [0, -214, 798] as const;
const RH2 = [2, 1, 2, 1] as const;
/** SCALEL / SCALEH: the inverse-log table. */
const ILB = [
  2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834, 2896, 2960, 3025,
  3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
] as const;
const IHN = [0, 1, 0] as const;
const IHP = [0, 3, 2] as const;

/**
 * The byte to send (and to conceal with) for silence: its low-band code adds 0 to the predictor and both bands'
 * codes shrink the scale factors to their minimum, so a fresh decoder outputs exactly 0 and one that was playing
 * speech settles below -50 dBFS within 200 ms (the quietest of the 256 codes, measured).
 */
export const G722_SILENCE = 0xfc;

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const sat = (v: number): number => clamp(v, -32768, 32767);

/**
 * One sub-band's adaptive predictor (two poles, six zeros) and scale factor. State lives in Int32Arrays indexed as
 * in the Recommendation: [0] is the current sample, [1..] the delay line.
 */
class Band {
  s = 0;
  sp = 0;
  sz = 0;
  nb = 0;
  det: number;
  readonly r = new Int32Array(3);
  readonly a = new Int32Array(3);
  readonly ap = new Int32Array(3);
  readonly p = new Int32Array(3);
  readonly d = new Int32Array(7);
  readonly b = new Int32Array(7);
  readonly bp = new Int32Array(7);
  readonly sg = new Int32Array(7);

  constructor(det: number) {
    this.det = det;
  }

  /** LOGSCL/LOGSCH then SCALEL/SCALEH: new log scale factor `nb` from the multiplier, and `det` from it. */
  scale(multiplier: number, nbMax: number, shift: number): void {
    const nb = clamp(((this.nb * 127) >> 7) + multiplier, 0, nbMax);
    this.nb = nb;
    const wd1 = (nb >> 6) & 31;
    const wd2 = shift - (nb >> 11);
    const wd3 = wd2 < 0 ? ILB[wd1]! << -wd2 : ILB[wd1]! >> wd2;
    this.det = wd3 << 2;
  }

  /** Block 4: reconstruct, adapt the pole and zero coefficients, shift the delay lines and predict the next sample. */
  adapt(d: number): void {
    const { r, a, ap, p, b, bp, sg } = this;
    const dl = this.d;
    dl[0] = d;
    r[0] = sat(this.s + d);
    p[0] = sat(this.sz + d);
    // UPPOL2
    sg[0] = p[0]! >> 15;
    sg[1] = p[1]! >> 15;
    sg[2] = p[2]! >> 15;
    let wd1 = sat(a[1]! << 2);
    let wd2 = sg[0] === sg[1] ? -wd1 : wd1;
    if (wd2 > 32767) wd2 = 32767;
    let wd3 = (wd2 >> 7) + (sg[0] === sg[2] ? 128 : -128);
    wd3 += (a[2]! * 32512) >> 15;
    ap[2] = clamp(wd3, -12288, 12288);
    // UPPOL1
    wd1 = sg[0] === sg[1] ? 192 : -192;
    wd2 = (a[1]! * 32640) >> 15;
    let ap1 = sat(wd1 + wd2);
    wd3 = sat(15360 - ap[2]!);
    if (ap1 > wd3) ap1 = wd3;
    else if (ap1 < -wd3) ap1 = -wd3;
    ap[1] = ap1;
    // UPZERO
    wd1 = d === 0 ? 0 : 128;
    sg[0] = d >> 15;
    for (let i = 1; i < 7; i++) {
      sg[i] = dl[i]! >> 15;
      wd2 = sg[i] === sg[0] ? wd1 : -wd1;
      wd3 = (b[i]! * 32640) >> 15;
      bp[i] = sat(wd2 + wd3);
    }
    // DELAYA
    for (let i = 6; i > 0; i--) {
      dl[i] = dl[i - 1]!;
      b[i] = bp[i]!;
    }
    for (let i = 2; i > 0; i--) {
      r[i] = r[i - 1]!;
      p[i] = p[i - 1]!;
      a[i] = ap[i]!;
    }
    // FILTEP
    wd1 = sat(r[1]! + r[1]!);
    wd1 = (a[1]! * wd1) >> 15;
    wd2 = sat(r[2]! + r[2]!);
    wd2 = (a[2]! * wd2) >> 15;
    this.sp = sat(wd1 + wd2);
    // FILTEZ
    let sz = 0;
    for (let i = 6; i > 0; i--) {
      wd1 = sat(dl[i]! + dl[i]!);
      sz += (b[i]! * wd1) >> 15;
    }
    this.sz = sat(sz);
    // PREDIC
    this.s = sat(this.sp + this.sz);
  }
}

/** The QMF delay line: 24 taps, newest pair at [22], [23]. */
function shiftIn(x: Int32Array, a: number, b: number): void {
  x.copyWithin(0, 2, 24);
  x[22] = a;
  x[23] = b;
}

export class G722Encoder {
  private readonly low = new Band(32);
  private readonly high = new Band(8);
  private readonly x = new Int32Array(24);

  /** Encodes `pcm` (16 kHz; an even count of samples) into `out` (pcm.length / 2 bytes); returns the view written. */
  encode(pcm: Int16Array, out: Uint8Array): Uint8Array {
    const n = pcm.length >> 1;
    if (out.length < n) throw new RangeError(`G722Encoder: out holds ${out.length} bytes, need ${n}`);
    const { low, high, x } = this;
    for (let j = 0; j < n; j++) {
      shiftIn(x, pcm[2 * j]!, pcm[2 * j + 1]!);
      let sumOdd = 0;
      let sumEven = 0;
      for (let i = 0; i < 12; i++) {
        sumOdd += x[2 * i]! * QMF[i]!;
        sumEven += x[2 * i + 1]! * QMF[11 - i]!;
      }
      const xlow = (sumEven + sumOdd) >> 14;
      const xhigh = (sumEven - sumOdd) >> 14;
      // Low band: SUBTRA, QUANTL, INVQAL, LOGSCL, SCALEL, block 4
      const el = sat(xlow - low.s);
      let wd = el >= 0 ? el : -(el + 1);
      let i = 1;
      for (; i < 30; i++) if (wd < (Q6[i]! * low.det) >> 12) break;
      const ilow = el < 0 ? ILN[i]! : ILP[i]!;
      const ril = ilow >> 2;
      const dlow = (low.det * QM4[ril]!) >> 15;
      low.scale(WL[RL42[ril]!]!, 18432, 8);
      low.adapt(dlow);
      // High band: SUBTRA, QUANTH, INVQAH, LOGSCH, SCALEH, block 4
      const eh = sat(xhigh - high.s);
      wd = eh >= 0 ? eh : -(eh + 1);
      const mih = wd >= (564 * high.det) >> 12 ? 2 : 1;
      const ihigh = eh < 0 ? IHN[mih]! : IHP[mih]!;
      const dhigh = (high.det * QM2[ihigh]!) >> 15;
      high.scale(WH[RH2[ihigh]!]!, 22528, 10);
      high.adapt(dhigh);
      out[j] = (ihigh << 6) | ilow;
    }
    return out.length === n ? out : out.subarray(0, n);
  }
}

export class G722Decoder {
  private readonly low = new Band(32);
  private readonly high = new Band(8);
  private readonly x = new Int32Array(24);

  /** Decodes `data` into `out` (2 samples a byte, 16 kHz); returns the view written. */
  decode(data: Uint8Array, out: Int16Array): Int16Array {
    const n = data.length;
    if (out.length < 2 * n) throw new RangeError(`G722Decoder: out holds ${out.length} samples, need ${2 * n}`);
    const { low, high, x } = this;
    for (let j = 0; j < n; j++) {
      const code = data[j]!;
      const ilow = code & 0x3f;
      const ihigh = (code >> 6) & 0x03;
      // Low band: INVQBL, RECONS, LIMIT; then INVQAL, LOGSCL, SCALEL, block 4
      const rlow = clamp(low.s + ((low.det * QM6[ilow]!) >> 15), -16384, 16383);
      const ril = ilow >> 2;
      const dlow = (low.det * QM4[ril]!) >> 15;
      low.scale(WL[RL42[ril]!]!, 18432, 8);
      low.adapt(dlow);
      // High band: INVQAH, RECONS, LIMIT; LOGSCH, SCALEH, block 4
      const dhigh = (high.det * QM2[ihigh]!) >> 15;
      const rhigh = clamp(dhigh + high.s, -16384, 16383);
      high.scale(WH[RH2[ihigh]!]!, 22528, 10);
      high.adapt(dhigh);
      // Receive QMF
      shiftIn(x, rlow + rhigh, rlow - rhigh);
      let xout1 = 0;
      let xout2 = 0;
      for (let i = 0; i < 12; i++) {
        xout2 += x[2 * i]! * QMF[i]!;
        xout1 += x[2 * i + 1]! * QMF[11 - i]!;
      }
      out[2 * j] = sat(xout1 >> 11);
      out[2 * j + 1] = sat(xout2 >> 11);
    }
    return out.length === 2 * n ? out : out.subarray(0, 2 * n);
  }
}
