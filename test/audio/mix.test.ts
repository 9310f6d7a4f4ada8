import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StereoRecorder } from '../../src/audio/mix.js';
import { readWav } from '../../src/audio/wav.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mix-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Deterministic, distinct per-sample values so misplacement by one sample is visible. */
function pattern(n: number, seed: number): Int16Array {
  return new Int16Array(n).map((_, i) => ((i * 7919 + seed * 104729) % 20000) - 10000);
}

function channels(wav: Uint8Array): { left: Int16Array; right: Int16Array; rate: number } {
  const r = readWav(wav);
  expect(r.channels).toBe(2);
  const inter = new Int16Array(r.data.slice().buffer);
  const left = new Int16Array(inter.length / 2);
  const right = new Int16Array(inter.length / 2);
  for (let i = 0; i < left.length; i++) {
    left[i] = inter[2 * i]!;
    right[i] = inter[2 * i + 1]!;
  }
  return { left, right, rate: r.sampleRate };
}

describe('StereoRecorder in memory', () => {
  it('puts caller left and agent right, aligned on the caller sample clock', () => {
    const rec = new StereoRecorder({ sampleRate: 8000 });
    const caller = pattern(16000, 1);
    for (let o = 0; o < caller.length; o += 160) rec.writeCaller(caller.subarray(o, o + 160));
    const agent = pattern(4000, 2);
    rec.writeAgent(agent, 8000); // playback started 1 s into the call
    expect(rec.callerSamples).toBe(16000);
    expect(rec.agentSamples).toBe(12000);
    const { left, right, rate } = channels(rec.toWav());
    expect(rate).toBe(8000);
    expect(left).toEqual(caller);
    expect(right.subarray(0, 8000).every((v) => v === 0)).toBe(true);
    expect(right.subarray(8000, 12000)).toEqual(agent);
    expect(right.subarray(12000).every((v) => v === 0)).toBe(true);
  });

  it('agent audio without a position is appended; running past the caller extends the recording', () => {
    const rec = new StereoRecorder({ sampleRate: 16000 });
    rec.writeCaller(pattern(320, 3));
    rec.writeAgent(pattern(200, 4));
    rec.writeAgent(pattern(300, 5));
    expect(rec.lengthSamples).toBe(500);
    const { left, right } = channels(rec.toWav());
    expect(left.length).toBe(500);
    expect(left.subarray(320).every((v) => v === 0)).toBe(true);
    expect(right.subarray(0, 200)).toEqual(pattern(200, 4));
    expect(right.subarray(200, 500)).toEqual(pattern(300, 5));
  });

  it('overlapping audio on one channel is mixed with saturation, not overwritten', () => {
    const rec = new StereoRecorder({ sampleRate: 8000 });
    rec.writeAgent(new Int16Array([1000, 1000, 30000, -30000]), 0);
    rec.writeAgent(new Int16Array([5000, -5000, 7, 9]), 2);
    const { right } = channels(rec.toWav());
    expect(Array.from(right)).toEqual([1000, 1000, 32767, -32768, 7, 9]);
  });

  it('keeps alignment across window slides and jumps, and counts late writes', () => {
    // A 0.1 s window (800 frames) so the long call slides it many times.
    const rec = new StereoRecorder({ sampleRate: 8000, windowSeconds: 0.1 });
    const caller = pattern(8000, 6);
    for (let o = 0; o < caller.length; o += 160) rec.writeCaller(caller.subarray(o, o + 160));
    expect(rec.bufferedSamples).toBeLessThanOrEqual(800);
    rec.writeAgent(pattern(100, 7), 7500); // inside the window
    rec.writeAgent(pattern(100, 8), 100); // long gone: dropped
    expect(rec.droppedSamples).toBe(100);
    rec.writeAgent(pattern(50, 9), 8700); // ahead of the caller by more than the window: a jump (silence between)
    const { left, right } = channels(rec.toWav());
    expect(left.length).toBe(8750);
    expect(left.subarray(0, 8000)).toEqual(caller);
    expect(right.subarray(7500, 7600)).toEqual(pattern(100, 7));
    expect(right.subarray(8700, 8750)).toEqual(pattern(50, 9));
    expect(right.subarray(0, 7500).every((v) => v === 0)).toBe(true);
    expect(right.subarray(7600, 8700).every((v) => v === 0)).toBe(true);
  });

  it('bad positions never throw: NaN/negative append, absurdly far ahead is dropped and counted', () => {
    const rec = new StereoRecorder({ sampleRate: 8000, windowSeconds: 1 });
    rec.writeCaller(new Int16Array(10), Number.NaN);
    rec.writeCaller(new Int16Array(10), -5);
    expect(rec.callerSamples).toBe(20);
    rec.writeAgent(new Int16Array(10), 1e12);
    expect(rec.droppedSamples).toBe(10);
    expect(rec.lengthSamples).toBe(20);
    expect(() => new StereoRecorder({ sampleRate: 0 })).toThrow(RangeError);
  });
});

describe('StereoRecorder streaming to a file', () => {
  it('a long call keeps memory bounded and the file holds exactly what was written', async () => {
    const file = path.join(dir, 'call.wav');
    const rec = new StereoRecorder({ sampleRate: 8000, windowSeconds: 1, holdbackMs: 200, flushIntervalMs: 50 });
    rec.writeCaller(pattern(800, 10)); // before open(): written first
    await rec.open(file);
    const seconds = 60;
    const total = 8000 * seconds;
    const frame = pattern(160, 11);
    for (let o = 800; o < total; o += 160) {
      rec.writeCaller(frame);
      if (o % 8000 === 0) rec.writeAgent(pattern(1600, 12), o); // a 200 ms agent prompt each second
      if (o % 16000 === 0) await rec.flush();
      expect(rec.bufferedSamples).toBeLessThanOrEqual(8000);
    }
    await rec.close();
    await rec.close(); // idempotent
    expect(rec.droppedSamples).toBe(0);
    const bytes = new Uint8Array(await readFile(file));
    expect((await stat(file)).size).toBe(44 + total * 4);
    const { left, right } = channels(bytes);
    expect(left.length).toBe(total);
    expect(left.subarray(0, 800)).toEqual(pattern(800, 10));
    for (let o = 800; o < total; o += 8000) expect(left.subarray(o, o + 160)).toEqual(frame);
    for (let s = 8000; s < total; s += 8000) expect(right.subarray(s, s + 1600)).toEqual(pattern(1600, 12));
    expect(right.subarray(1600 + 8000, 16000).every((v) => v === 0)).toBe(true);
    expect(() => rec.toWav()).toThrow(/streams to/);
  });

  it('a recording cut short (no close) is still a readable WAV', async () => {
    const file = path.join(dir, 'crash.wav');
    const rec = new StereoRecorder({ sampleRate: 16000, holdbackMs: 0 });
    await rec.open(file);
    rec.writeCaller(pattern(3200, 13));
    rec.writeAgent(pattern(1600, 14), 800);
    await rec.flush();
    const { left, right, rate } = channels(new Uint8Array(await readFile(file)));
    expect(rate).toBe(16000);
    expect(left).toEqual(pattern(3200, 13));
    expect(right.subarray(800, 2400)).toEqual(pattern(1600, 14));
    await rec.close();
    rec.writeCaller(pattern(10, 1)); // after close: ignored, counted
    expect(rec.droppedSamples).toBe(10);
    expect(readWav(new Uint8Array(await readFile(file))).durationMs).toBe(200);
  });
});
