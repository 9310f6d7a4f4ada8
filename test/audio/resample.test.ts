import { describe, expect, it } from 'vitest';
import { Resampler, resample } from '../../src/audio/resample.js';

const RATES = [8000, 16000, 24000, 44100, 48000] as const;

function tone(freq: number, rate: number, samples: number, amp = 10000): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) out[i] = Math.round(amp * Math.sin((2 * Math.PI * freq * i) / rate));
  return out;
}

/** Amplitude of the component at `freq` over out[from .. from + rate) (1 s: a whole number of periods). */
function amplitudeAt(x: Int16Array, freq: number, rate: number, from: number): number {
  let s = 0;
  let c = 0;
  for (let i = from; i < from + rate; i++) {
    const w = (2 * Math.PI * freq * i) / rate;
    s += x[i]! * Math.sin(w);
    c += x[i]! * Math.cos(w);
  }
  return (2 / rate) * Math.hypot(s, c);
}

function rms(x: Int16Array, from: number, to: number): number {
  let e = 0;
  for (let i = from; i < to; i++) e += x[i]! * x[i]!;
  return Math.sqrt(e / (to - from));
}

const dB = (ratio: number) => 20 * Math.log10(ratio);

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Noise-like test signal: a fixed LCG, so runs are reproducible. */
function noise(samples: number, seed = 12345): Int16Array {
  const out = new Int16Array(samples);
  let s = seed;
  for (let i = 0; i < samples; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = ((s >>> 16) & 0xffff) - 32768;
  }
  return out;
}

describe('Resampler streaming', () => {
  const pairs: [number, number][] = [];
  for (const a of RATES) for (const b of RATES) if (a !== b) pairs.push([a, b]);

  it.each(pairs)('%i -> %i Hz: 20 ms frames give exactly the whole-signal output', (from, to) => {
    const input = noise(from / 2); // 0.5 s
    const whole = new Resampler(from, to);
    const expected = concat([whole.process(input).slice(), whole.flush().slice()]);
    const framed = new Resampler(from, to);
    const frame = (from * 20) / 1000;
    const parts: Int16Array[] = [];
    for (let o = 0; o < input.length; o += frame) parts.push(framed.process(input.subarray(o, o + frame)).slice());
    parts.push(framed.flush().slice());
    expect(concat(parts)).toEqual(expected);
    // Total output = ceil(in x to / from) + delay, whatever the chunking.
    expect(expected.length).toBe(Math.ceil((input.length * to) / from) + whole.delaySamples);
  });

  it('irregular chunk sizes (1 sample .. 997 samples, and empty) give the same output too', () => {
    const input = noise(16000, 7);
    const ref = new Resampler(16000, 8000);
    const expected = concat([ref.process(input).slice(), ref.flush().slice()]);
    const r = new Resampler(16000, 8000);
    const parts: Int16Array[] = [];
    const sizes = [1, 0, 2, 997, 3, 160, 5, 0, 331];
    let o = 0;
    for (let k = 0; o < input.length; k++) {
      const n = sizes[k % sizes.length]!;
      parts.push(r.process(input.subarray(o, o + n)).slice());
      o += n;
    }
    parts.push(r.flush().slice());
    expect(concat(parts)).toEqual(expected);
  });

  it('returns a view into one internal buffer for equal-sized frames (no per-frame allocation)', () => {
    const r = new Resampler(8000, 16000);
    const a = r.process(new Int16Array(160));
    const b = r.process(new Int16Array(160));
    expect(a.length).toBe(320);
    expect(b).toBe(a);
  });

  it('reset() starts over from silence; flush() also leaves it reset', () => {
    const input = tone(1000, 8000, 800);
    const r = new Resampler(8000, 16000);
    const first = concat([r.process(input).slice(), r.flush().slice()]);
    const second = concat([r.process(input).slice(), r.flush().slice()]);
    expect(second).toEqual(first);
    r.process(noise(100));
    r.reset();
    expect(r.process(input).slice()).toEqual(first.subarray(0, 1600));
  });

  it('has a whole-sample delay and saturates instead of wrapping', () => {
    for (const [a, b] of pairs) expect(Number.isInteger(new Resampler(a, b).delaySamples)).toBe(true);
    const square = new Int16Array(800).map((_, i) => (Math.floor(i / 20) % 2 ? 32767 : -32768));
    const out = resample(square, 8000, 16000);
    // Gibbs overshoot of a full-scale square wave must clip, never wrap to the opposite sign.
    for (let i = 100; i < out.length - 100; i++) {
      const expectedSign = Math.floor(i / 40) % 2 ? 1 : -1;
      if (i % 40 > 8 && i % 40 < 32) expect(Math.sign(out[i]!)).toBe(expectedSign);
    }
  });

  it('rejects unusable rates with a clear RangeError', () => {
    expect(() => new Resampler(0, 8000)).toThrow(/positive integers/);
    expect(() => new Resampler(8000, 8000.5)).toThrow(RangeError);
    expect(() => new Resampler(1, 7919)).toThrow(/interpolation by 7919/);
  });
});

describe('Resampler frequency response (sine sweeps)', () => {
  // 1.5 s of tone; measure over 1 s starting 0.25 s in (clear of onset and end transients).
  const passband = [300, 500, 700, 1000, 1300, 1700, 2000, 2300, 2700, 3000, 3200, 3400];

  it.each([
    [8000, 16000],
    [16000, 8000],
  ])('%i -> %i Hz: passband ripple <= 0.1 dB from 300 Hz to 3.4 kHz', (from, to) => {
    const gains = passband.map((f) => {
      const out = resample(tone(f, from, (from * 3) / 2), from, to);
      return dB(amplitudeAt(out, f, to, to / 4) / 10000);
    });
    expect(Math.max(...gains) - Math.min(...gains)).toBeLessThanOrEqual(0.1);
    for (const g of gains) expect(Math.abs(g)).toBeLessThanOrEqual(0.1);
  });

  it('16 -> 8 kHz: tones above the new Nyquist (4.05 .. 7.95 kHz) are >= 60 dB down (no aliasing)', () => {
    for (let f = 4050; f < 8000; f += 100) {
      const out = resample(tone(f, 16000, 24000), 16000, 8000);
      // Whatever comes out is alias; measure all of it against the input level (10000 peak = 7071 rms).
      expect(dB(rms(out, 2000, 10000) / 7071)).toBeLessThanOrEqual(-60);
    }
  });

  it('8 -> 16 kHz: images above 4 kHz of tones 100 .. 3.9 kHz are >= 60 dB down', () => {
    for (let f = 100; f <= 3900; f += 200) {
      const out = resample(tone(f, 8000, 12000), 8000, 16000);
      expect(dB(amplitudeAt(out, 8000 - f, 16000, 4000) / 10000)).toBeLessThanOrEqual(-60);
    }
  });

  it('48 -> 8 kHz and 44.1 -> 16 kHz reject everything above the new Nyquist', () => {
    for (const [from, to] of [
      [48000, 8000],
      [44100, 16000],
    ] as const) {
      for (let f = to / 2 + 100; f < from / 2; f += 1700) {
        const out = resample(tone(f, from, from), from, to);
        expect(dB(rms(out, to / 8, (to * 7) / 8) / 7071)).toBeLessThanOrEqual(-60);
      }
    }
  });

  it('one-shot resample() is delay-compensated: a tone lines up with the ideal tone at the new rate', () => {
    for (const [from, to] of [
      [8000, 16000],
      [16000, 8000],
      [44100, 48000],
      [8000, 24000],
      [48000, 16000],
    ] as const) {
      const out = resample(tone(1000, from, from), from, to);
      expect(out.length).toBe(to);
      const ideal = tone(1000, to, to);
      const err = new Int16Array(to).map((_, i) => out[i]! - ideal[i]!);
      expect(dB(rms(err, to / 8, (to * 7) / 8) / 7071)).toBeLessThanOrEqual(-60);
    }
  });
});
