import { describe, expect, it } from 'vitest';
import { haveSounds, sound } from '../../fixtures/lib/sounds.js';
import { setRmsDbfs, toInt16, whiteNoise } from '../../fixtures/lib/synth.js';
import { createDenoiser } from '../../src/audio/denoise.js';

function rmsDb(x: Int16Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return 20 * Math.log10(Math.sqrt(s / Math.max(1, x.length)) / 32768);
}

/** Run `pcm` through a new denoiser in 20 ms frames; the output, same length. */
async function denoise(pcm: Int16Array, rate: number): Promise<Int16Array> {
  const d = await createDenoiser(rate);
  const step = rate / 50;
  const out = new Int16Array(pcm.length);
  for (let i = 0; i + step <= pcm.length; i += step) {
    const o = d.process(pcm.subarray(i, i + step));
    expect(o.length).toBe(step);
    out.set(o, i);
  }
  d.close();
  return out;
}

describe('Denoiser (RNNoise wasm)', () => {
  it('takes out steady noise at 8 and 16 kHz, frame in = frame out', async () => {
    for (const rate of [8000, 16000]) {
      const noise = toInt16(whiteNoise(rate * 3, -35, 7));
      const out = await denoise(noise, rate);
      // Past the first half second (the network adapts to the noise floor).
      const before = rmsDb(noise.subarray(rate / 2));
      const after = rmsDb(out.subarray(rate / 2));
      expect(before - after).toBeGreaterThan(10);
    }
  });

  it('keeps real speech (a human recording, 8 kHz) nearly as loud', async () => {
    if (!haveSounds()) return; // asterisk-core-sounds-en-wav is in .ci/run
    const speech = toInt16(setRmsDbfs(sound('vm-savefolder'), -20));
    const out = await denoise(speech, 8000);
    expect(rmsDb(speech) - rmsDb(out)).toBeLessThan(4);
  });
});
