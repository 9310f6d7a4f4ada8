/**
 * `voice-engine bench dsp` (DESIGN.md section 7): each per-frame DSP stage as a multiple of real time on one core.
 *
 * Every stage runs on prebuilt inputs in 20 ms frames, the way a call feeds it: warm up (so the JIT has compiled
 * the hot loop), then repeat passes over the input for about 1 s of CPU time (`--fast`: 0.2 s, `--seconds S`).
 * x_realtime = seconds of audio processed / CPU seconds used (process.cpuUsage: user + system, which also
 * charges GC helper threads, so the figure is conservative). DTMF and VAD are imported dynamically: if one is
 * missing or its API differs, that stage reports x_realtime null with the error instead of a number.
 */

import { mulawDecode, mulawEncode } from '../src/audio/g711.js';
import { Resampler } from '../src/audio/resample.js';
import type { BenchContext } from '../src/cli/bench.js';

export interface StageResult {
  name: string;
  x_realtime: number | null;
  /** CPU time per 20 ms frame, ns. */
  ns_per_frame?: number;
  /** The target multiple of real time, where there is one. */
  target_x?: number;
  error?: string;
}

export interface DspResult {
  suite: 'dsp';
  frame_ms: number;
  results: StageResult[];
  [key: string]: unknown;
}

const FRAME_MS = 20;
const INPUT_SECONDS = 10;

/** Reproducible speech-band test signal: voiced harmonics with a syllable envelope plus low-level noise. */
function testSignal(rate: number, seconds: number): Int16Array {
  const n = rate * seconds;
  const out = new Int16Array(n);
  let seed = 0x2545f491;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const f0 = 110 + 30 * Math.sin(2 * Math.PI * 0.7 * t);
    const env = Math.max(0, Math.sin(2 * Math.PI * 2.5 * t));
    let v = 0;
    for (let h = 1; h <= 12; h++) v += Math.sin(2 * Math.PI * f0 * h * t) / h;
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    out[i] = Math.round(5000 * env * v + ((seed >>> 16) - 32768) / 64);
  }
  return out;
}

function frames<T extends Int16Array | Uint8Array>(data: T, size: number): T[] {
  const out: T[] = [];
  for (let o = 0; o + size <= data.length; o += size) out.push(data.subarray(o, o + size) as T);
  return out;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Run `pass` (one pass = `audioSeconds` of audio in 20 ms frames) until `budget` CPU seconds have gone by. */
function measure(pass: () => void, audioSeconds: number, framesPerPass: number, budget: number): StageResult {
  const warmEnd = cpuSeconds() + Math.min(0.2, budget / 2);
  while (cpuSeconds() < warmEnd) pass();
  const start = cpuSeconds();
  let passes = 0;
  let used = 0;
  do {
    pass();
    passes++;
    used = cpuSeconds() - start;
  } while (used < budget);
  return {
    name: '',
    x_realtime: Math.round((passes * audioSeconds) / used),
    ns_per_frame: Math.round((used * 1e9) / (passes * framesPerPass)),
  };
}

function failed(name: string, err: unknown, target?: number): StageResult {
  const message = err instanceof Error ? err.message : String(err);
  return { name, x_realtime: null, ...(target ? { target_x: target } : {}), error: message };
}

interface DtmfModule {
  DtmfDetector: new (opts: {
    sampleRate: 8000;
    onDigit: (e: { digit: string }) => void;
  }) => {
    push(pcm: Int16Array): void;
  };
  generateDtmf?: (digits: string, opts?: { sampleRate?: number }) => Int16Array;
}

interface VadModule {
  createVad(opts: { sampleRate: 8000 | 16000 }): Promise<{ process(frame: Int16Array): number; close?: () => void }>;
}

export async function run(ctx: BenchContext): Promise<DspResult> {
  // --seconds S sets the CPU time per stage; --fast is 0.2 s.
  const seconds = Number(ctx.args.flags.seconds);
  const budget = Number.isFinite(seconds) && seconds > 0 ? seconds : ctx.args.flags.fast === true ? 0.2 : 1;
  const results: StageResult[] = [];
  const pcm8 = testSignal(8000, INPUT_SECONDS);
  const pcm16 = testSignal(16000, INPUT_SECONDS);
  const frames8 = frames(pcm8, 160);
  const frames16 = frames(pcm16, 320);
  const mu = mulawEncode(pcm8);
  const muFrames = frames(mu, 160);
  const nFrames = frames8.length;

  const stage = (name: string, target: number | undefined, pass: () => void, count = nFrames) => {
    ctx.progress(`dsp: ${name} ...`);
    const r = measure(pass, INPUT_SECONDS, count, budget);
    results.push({ ...r, name, ...(target ? { target_x: target } : {}) });
    ctx.progress(`dsp: ${name} ${r.x_realtime}x real time`);
  };

  const pcmOut = new Int16Array(160);
  stage('g711.decode', 20000, () => {
    for (const f of muFrames) mulawDecode(f, pcmOut);
  });
  const byteOut = new Uint8Array(160);
  stage('g711.encode', undefined, () => {
    for (const f of frames8) mulawEncode(f, byteOut);
  });
  const up = new Resampler(8000, 16000);
  stage('resample.8k-16k', 1000, () => {
    for (const f of frames8) up.process(f);
  });
  const down = new Resampler(16000, 8000);
  stage('resample.16k-8k', undefined, () => {
    for (const f of frames16) down.process(f);
  });

  try {
    const mod = (await import('../src/audio/dtmf.js')) as unknown as DtmfModule;
    let digits = 0;
    const det = new mod.DtmfDetector({ sampleRate: 8000, onDigit: () => digits++ });
    // Speech with a burst of digits in the middle, so both the idle and the detecting paths are timed.
    const input = pcm8.slice();
    if (mod.generateDtmf) {
      const tones = mod.generateDtmf('1234567890*#ABCD', { sampleRate: 8000 });
      input.set(tones.subarray(0, Math.min(tones.length, input.length - 8000)), 8000);
    }
    const dtmfFrames = frames(input, 160);
    stage('dtmf.detect', 2000, () => {
      for (const f of dtmfFrames) det.push(f);
    });
    if (mod.generateDtmf && digits === 0)
      ctx.progress('dsp: warning: the DTMF detector found no digits in the bench input');
  } catch (err) {
    results.push(failed('dtmf.detect', err, 2000));
    ctx.progress(`dsp: dtmf.detect unavailable: ${(err as Error).message}`);
  }

  try {
    const mod = (await import('../src/audio/vad.js')) as unknown as VadModule;
    const vad = await mod.createVad({ sampleRate: 8000 });
    if (typeof vad.process !== 'function') throw new Error('createVad() result has no process(frame) method');
    stage('vad', 200, () => {
      for (const f of frames8) vad.process(f);
    });
    vad.close?.();
  } catch (err) {
    results.push(failed('vad', err, 200));
    ctx.progress(`dsp: vad unavailable: ${(err as Error).message}`);
  }

  return { suite: 'dsp', frame_ms: FRAME_MS, cpu_seconds_per_stage: budget, results };
}

export function table(result: Record<string, unknown>): string[][] {
  const rows = [['stage', 'x real time (1 core)', 'ns / 20 ms frame', 'target']];
  for (const r of (result as DspResult).results) {
    rows.push([
      r.name,
      r.x_realtime === null ? `n/a (${r.error ?? 'error'})` : String(r.x_realtime),
      r.ns_per_frame === undefined ? '' : String(r.ns_per_frame),
      r.target_x === undefined
        ? ''
        : `>= ${r.target_x}${r.x_realtime !== null && r.x_realtime >= r.target_x ? ' ok' : ' MISSED'}`,
    ]);
  }
  return rows;
}
