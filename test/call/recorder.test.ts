import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MULAW_8K, PCM_16K } from '../../src/audio/format.js';
import { linearToMulaw } from '../../src/audio/g711.js';
import { readWav } from '../../src/audio/wav.js';
import { StereoCallRecorder } from '../../src/call/recorder.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 've-rec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Left / right channels of a stereo PCM16 WAV. */
function channels(buf: Buffer): { left: Int16Array; right: Int16Array } {
  const frames = (buf.length - 44) / 4;
  const left = new Int16Array(frames);
  const right = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    left[i] = buf.readInt16LE(44 + i * 4);
    right[i] = buf.readInt16LE(46 + i * 4);
  }
  return { left, right };
}

describe('StereoCallRecorder', () => {
  it('streams a long call to disk block by block: caller left, agent right on the call timeline, cut at a barge-in', async () => {
    const rec = new StereoCallRecorder(8000);
    const file = path.join(dir, 'long.wav');
    rec.stream(file);
    const frame = new Int16Array(160).fill(1000);
    // 25 s of caller audio; the agent speaks 1 s (mu-law) at 12 s, then 2 s (16 kHz PCM) at 20 s, cut after 0.5 s.
    for (let i = 0; i < 1250; i++) {
      if (i === 600) {
        rec.agentUtteranceStart();
        rec.agentAudio({ format: MULAW_8K, data: new Uint8Array(8000).fill(linearToMulaw(-2000)) });
      }
      if (i === 1000) {
        rec.agentUtteranceStart();
        const pcm = Buffer.alloc(32000 * 2);
        for (let k = 0; k < 32000; k++) pcm.writeInt16LE(3000, k * 2);
        rec.agentAudio({ format: PCM_16K, data: pcm });
      }
      if (i === 1025) rec.agentCleared();
      rec.callerFrame(frame);
    }
    // Finished blocks were already written while the call went on.
    await rec.flushed();
    const early = readFileSync(file);
    expect(early.length).toBeGreaterThan(44 + 10 * 8000 * 4);
    expect(early.readUInt32LE(40)).toBe(0xffffffff);
    expect(readWav(early).channels).toBe(2);
    const saved = await rec.save(file);
    expect(saved).toBe(file);
    const buf = readFileSync(file);
    expect(buf.readUInt32LE(40)).toBe(25 * 8000 * 4);
    const { left, right } = channels(buf);
    expect(left.length).toBe(25 * 8000);
    expect(left[100]).toBe(1000);
    expect(right[100]).toBe(0);
    expect(Math.abs(right[12 * 8000 + 100]! + 2000)).toBeLessThan(100); // mu-law step
    expect(right[13 * 8000 + 100]).toBe(0);
    expect(Math.abs(right[20 * 8000 + 2000]! - 3000)).toBeLessThan(60); // resampled 16 -> 8 kHz
    expect(right[20 * 8000 + 6000]).toBe(0); // cleared at 20.5 s: never heard
    expect(rec.droppedSamples).toBe(0);
  });

  it('a short call without streaming is written whole', async () => {
    const rec = new StereoCallRecorder(8000);
    rec.callerFrame(new Int16Array(160).fill(5));
    const file = await rec.save(path.join(dir, 'short.wav'));
    const { left } = channels(readFileSync(file));
    expect(Array.from(left.slice(0, 3))).toEqual([5, 5, 5]);
  });
});
