import { describe, expect, it } from 'vitest';
import { DBM0_RMS, DtmfDetector, type DtmfEvent, detectDtmfInPcm, generateDtmf } from '../../src/audio/dtmf.js';
import { alawDecode, alawEncode, mulawDecode, mulawEncode } from '../../src/audio/g711.js';

const ALL = '0123456789*#ABCD';

function pad(x: Int16Array, samples = 800): Int16Array {
  const out = new Int16Array(x.length + 2 * samples);
  out.set(x, samples);
  return out;
}

function digitsOf(pcm: Int16Array, rate = 8000): string {
  return detectDtmfInPcm(pcm, rate)
    .map((e) => e.digit)
    .join('');
}

function rms(x: Int16Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / x.length);
}

/** Goertzel power at f over a whole signal, relative units */
function powerAt(x: Int16Array, f: number, rate: number): number {
  const c = 2 * Math.cos((2 * Math.PI * f) / rate);
  let a = 0;
  let b = 0;
  for (const v of x) {
    const t = v + c * a - b;
    b = a;
    a = t;
  }
  return a * a + b * b - c * a * b;
}

describe('generateDtmf', () => {
  it('puts each digit at its Q.23 row and column frequency', () => {
    const pcm = generateDtmf('5', { toneMs: 200, gapMs: 0 });
    const at = (f: number) => powerAt(pcm, f, 8000);
    expect(at(770)).toBeGreaterThan(100 * at(697));
    expect(at(1336)).toBeGreaterThan(100 * at(1209));
    expect(at(1336)).toBeGreaterThan(100 * at(1477));
  });

  it('sets the total level in dBm0 and the twist in dB', () => {
    const pcm = generateDtmf('1', { toneMs: 1000, gapMs: 0, levelDbm0: -10, twistDb: 0 });
    expect(20 * Math.log10(rms(pcm) / DBM0_RMS)).toBeCloseTo(-10, 1);
    const tw = generateDtmf('1', { toneMs: 1000, gapMs: 0, twistDb: 4 });
    const twistDb = 10 * Math.log10(powerAt(tw, 1209, 8000) / powerAt(tw, 697, 8000));
    expect(twistDb).toBeCloseTo(4, 1);
  });

  it('lays out tone and gap lengths at any rate, and rejects a non-DTMF character', () => {
    expect(generateDtmf('12', { sampleRate: 16000, toneMs: 50, gapMs: 30 }).length).toBe(2 * 1280);
    expect(() => generateDtmf('12x')).toThrow(RangeError);
    expect(digitsOf(pad(generateDtmf('abcd')))).toBe('ABCD');
  });
});

describe('DtmfDetector (ITU-T Q.24)', () => {
  it('detects every digit with start/end times close to the tone', () => {
    const events = detectDtmfInPcm(pad(generateDtmf(ALL, { toneMs: 100, gapMs: 100 })), 8000);
    expect(events.map((e) => e.digit).join('')).toBe(ALL);
    events.forEach((e, i) => {
      const start = 100 + i * 200;
      expect(Math.abs(e.startMs - start)).toBeLessThanOrEqual(6);
      expect(Math.abs(e.endMs - (start + 100))).toBeLessThanOrEqual(6);
    });
  });

  it('gives the same events whatever the chunk sizes pushed', () => {
    const pcm = pad(generateDtmf('159#D', { toneMs: 60, gapMs: 50, levelDbm0: -20 }));
    const ref = detectDtmfInPcm(pcm, 8000);
    for (const chunk of [1, 7, 33, 34, 160, 1000]) {
      const got: DtmfEvent[] = [];
      const det = new DtmfDetector({ sampleRate: 8000, onDigit: (e) => got.push(e) });
      for (let i = 0; i < pcm.length; i += chunk) det.push(pcm.subarray(i, i + chunk));
      det.flush();
      expect(got).toEqual(ref);
    }
    expect(ref.map((e) => e.digit).join('')).toBe('159#D');
  });

  it('calls onDigitStart before onDigit, and flush() reports a digit still on', () => {
    const calls: string[] = [];
    const det = new DtmfDetector({
      onDigit: (e) => calls.push(`end ${e.digit} ${e.startMs}-${e.endMs}`),
      onDigitStart: (d, ms) => calls.push(`start ${d} ${ms}`),
    });
    det.push(new Int16Array(400));
    det.push(generateDtmf('7', { toneMs: 200, gapMs: 0 }));
    expect(calls.length).toBe(1);
    expect(calls[0]).toMatch(/^start 7 (4[6-9]|5[0-4])$/);
    det.flush();
    expect(calls.length).toBe(2);
    expect(calls[1]).toMatch(/^end 7 (4[6-9]|5[0-4])-2(4[6-9]|5[0-4])$/);
  });

  it('reset() forgets the time base and any tone in progress', () => {
    const got: DtmfEvent[] = [];
    const det = new DtmfDetector({ onDigit: (e) => got.push(e) });
    det.push(generateDtmf('3', { toneMs: 30, gapMs: 0 }));
    det.reset();
    det.push(pad(generateDtmf('4', { toneMs: 100, gapMs: 0 })));
    det.flush();
    expect(got.map((e) => e.digit)).toEqual(['4']);
    expect(Math.abs(got[0]!.startMs - 100)).toBeLessThanOrEqual(6);
  });

  it('works only at 8 kHz', () => {
    expect(() => new DtmfDetector({ sampleRate: 16000 as 8000, onDigit: () => {} })).toThrow(/8000/);
  });

  it('accepts +/-1.5% frequency deviation and rejects +/-3.5%', () => {
    for (const d of [0.015, -0.015]) expect(digitsOf(pad(generateDtmf(ALL, { freqDeviation: d })))).toBe(ALL);
    for (const d of [0.035, -0.035]) expect(digitsOf(pad(generateDtmf(ALL, { freqDeviation: d })))).toBe('');
  });

  it('accepts twist +4 / -8 dB and rejects +8 / -12 dB', () => {
    for (const t of [4, -8]) expect(digitsOf(pad(generateDtmf(ALL, { twistDb: t })))).toBe(ALL);
    for (const t of [8, -12]) expect(digitsOf(pad(generateDtmf(ALL, { twistDb: t })))).toBe('');
  });

  it('accepts 40 ms tones, rejects 20 ms, and a 40 ms pause separates a repeated digit', () => {
    expect(digitsOf(pad(generateDtmf(ALL, { toneMs: 40, gapMs: 40 })))).toBe(ALL);
    expect(digitsOf(pad(generateDtmf(ALL, { toneMs: 20, gapMs: 60 })))).toBe('');
    expect(digitsOf(pad(generateDtmf('5555', { toneMs: 40, gapMs: 40 })))).toBe('5555');
  });

  it('bridges a 10 ms dropout inside one digit, wherever it falls', () => {
    const half = generateDtmf('8', { toneMs: 60, gapMs: 10 });
    for (let lead = 400; lead < 434; lead += 5) {
      const x = new Int16Array(2 * half.length + 800);
      x.set(half, lead);
      x.set(half.subarray(0, 480), lead + half.length);
      expect(digitsOf(x)).toBe('8');
    }
  });

  it('works from 0 to -30 dBm0, through G.711 both laws', () => {
    for (const l of [0, -10, -20, -30]) {
      const x = pad(generateDtmf(ALL, { levelDbm0: l }));
      expect(digitsOf(x)).toBe(ALL);
      expect(digitsOf(mulawDecode(mulawEncode(x)))).toBe(ALL);
      expect(digitsOf(alawDecode(alawEncode(x)))).toBe(ALL);
    }
  });

  it('finds digits in 16 kHz and 48 kHz input (resampled to 8 kHz)', () => {
    for (const rate of [16000, 48000]) {
      expect(digitsOf(pad(generateDtmf(ALL, { sampleRate: rate }), rate / 10), rate)).toBe(ALL);
    }
  });

  it('ignores silence, a single tone, and white noise', () => {
    expect(digitsOf(new Int16Array(8000))).toBe('');
    const tone = Int16Array.from({ length: 8000 }, (_, n) =>
      Math.round(8000 * Math.sin((2 * Math.PI * 941 * n) / 8000)),
    );
    expect(digitsOf(tone)).toBe('');
    let seed = 42;
    const noise = Int16Array.from({ length: 16000 }, () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 16) - 32768;
    });
    expect(digitsOf(noise)).toBe('');
  });
});
