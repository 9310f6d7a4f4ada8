import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BeepDetector, type BeepEvent } from '../../src/audio/beep.js';
import { generateDtmf } from '../../src/audio/dtmf.js';
import { readWav } from '../../src/audio/wav.js';

const RATE = 8000;

/** Deterministic white noise (LCG), RMS `dbfs`. */
function noise(n: number, dbfs: number, seed = 1): Float64Array {
  const out = new Float64Array(n);
  let s = seed >>> 0;
  const rms = 32768 * 10 ** (dbfs / 20);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * rms * Math.sqrt(3);
  }
  return out;
}

/** Silence, a sine of `ms` at `hz` and RMS `dbfs`, silence; optional noise under everything. */
function call(hz: number, ms: number, dbfs: number, opts: { noiseDbfs?: number; rate?: number; leadMs?: number } = {}) {
  const rate = opts.rate ?? RATE;
  const lead = Math.round(((opts.leadMs ?? 300) * rate) / 1000);
  const len = Math.round((ms * rate) / 1000);
  const total = lead + len + Math.round(0.3 * rate);
  const x = opts.noiseDbfs === undefined ? new Float64Array(total) : noise(total, opts.noiseDbfs);
  const amp = 32768 * 10 ** (dbfs / 20) * Math.SQRT2;
  for (let i = 0; i < len; i++) x[lead + i]! += amp * Math.sin((2 * Math.PI * hz * i) / rate);
  return Int16Array.from(x, (v) => Math.max(-32768, Math.min(32767, Math.round(v))));
}

function detect(pcm: Int16Array, rate = RATE, frame = (rate / 1000) * 20): { beeps: BeepEvent[]; starts: number[] } {
  const beeps: BeepEvent[] = [];
  const starts: number[] = [];
  const d = new BeepDetector({
    sampleRate: rate,
    onBeep: (e) => beeps.push(e),
    onBeepStart: (_hz, at) => starts.push(at),
  });
  for (let i = 0; i + frame <= pcm.length; i += frame) d.push(pcm.subarray(i, i + frame));
  return { beeps, starts };
}

describe('BeepDetector', () => {
  it.each([400, 440, 523, 600, 850, 950, 1000])('finds a %i Hz beep at several levels', (hz) => {
    for (const level of [-6, -20, -35]) {
      const { beeps } = detect(call(hz, 500, level));
      expect(beeps, `${hz} Hz at ${level} dBFS`).toHaveLength(1);
      expect(Math.abs(beeps[0]!.hz - hz)).toBeLessThanOrEqual(6);
      // Within one 20 ms block of the true edges (300 ms lead, 500 ms tone).
      expect(Math.abs(beeps[0]!.startMs - 300)).toBeLessThanOrEqual(20);
      expect(Math.abs(beeps[0]!.endMs - 800)).toBeLessThanOrEqual(20);
    }
  });

  it('finds beeps under line noise (15 dB SNR) and at 16 kHz', () => {
    expect(detect(call(1000, 300, -15, { noiseDbfs: -30 })).beeps).toHaveLength(1);
    expect(detect(call(620, 250, -20, { noiseDbfs: -36 })).beeps).toHaveLength(1);
    const wide = detect(call(750, 400, -12, { rate: 16000 }), 16000);
    expect(wide.beeps).toHaveLength(1);
    expect(Math.abs(wide.beeps[0]!.hz - 750)).toBeLessThanOrEqual(6);
  });

  it('reports the start while the beep still plays, about 120 ms in', () => {
    const { starts, beeps } = detect(call(1000, 1000, -12));
    expect(starts).toHaveLength(1);
    expect(beeps[0]!.startMs).toBe(starts[0]);
  });

  it('ignores tones shorter than the minimum, DTMF, noise, a glide and silence', () => {
    expect(detect(call(1000, 80, -12)).beeps).toHaveLength(0);
    expect(detect(call(1000, 0, -12, { noiseDbfs: -20 })).beeps).toHaveLength(0);
    expect(detect(new Int16Array(RATE)).beeps).toHaveLength(0);
    const dtmf = generateDtmf('5', { toneMs: 400, gapMs: 0 });
    expect(detect(dtmf).beeps).toHaveLength(0);
    // A sweep 400 -> 1000 Hz over 500 ms is not one tone.
    const sweep = new Int16Array(RATE / 2);
    let phase = 0;
    for (let i = 0; i < sweep.length; i++) {
      phase += (2 * Math.PI * (400 + (600 * i) / sweep.length)) / RATE;
      sweep[i] = Math.round(8000 * Math.sin(phase));
    }
    expect(detect(sweep).beeps).toHaveLength(0);
    // Out of band (a 2 kHz tone).
    expect(detect(call(2000, 500, -12)).beeps).toHaveLength(0);
  });

  it('two beeps in a row are two events; reset forgets a tone in progress', () => {
    const one = call(800, 300, -12);
    const two = new Int16Array(one.length * 2);
    two.set(one);
    two.set(one, one.length);
    expect(detect(two).beeps).toHaveLength(2);
    const d = new BeepDetector();
    const pcm = call(800, 600, -12, { leadMs: 0 });
    d.push(pcm.subarray(0, 1600));
    expect(d.active).toBe(true);
    d.reset();
    expect(d.active).toBe(false);
    expect(d.audioMs).toBe(0);
  });

  it('no false beep in real speech: the greetings and callers of the fixtures (one real speaker)', () => {
    const files = [
      'fixtures/amd/machine-no-beep.wav',
      'fixtures/amd/human-long.wav',
      'fixtures/amd/human-long-noisy.wav',
      'fixtures/amd/human-hello.wav',
      'fixtures/calls/real-nonstop.wav',
      'fixtures/calls/real-two-sentences.wav',
      'fixtures/calls/real-hesitant.wav',
      'fixtures/calls/real-question.wav',
    ];
    for (const f of files) {
      const w = readWav(readFileSync(path.resolve(f)));
      expect(detect(w.samples).beeps, f).toEqual([]);
    }
    // The greeting with a beep: exactly the beep (1 kHz at 9319-9819 ms), none in the speech before it.
    const vm = detect(readWav(readFileSync(path.resolve('fixtures/amd/machine-beep-noisy.wav'))).samples);
    expect(vm.beeps).toHaveLength(1);
    expect(vm.beeps[0]!.hz).toBe(1000);
    expect(Math.abs(vm.beeps[0]!.startMs - 9319)).toBeLessThanOrEqual(20);
  });
});
