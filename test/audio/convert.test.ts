import { describe, expect, it } from 'vitest';
import { AudioConverter, decodeToPcm16, int16ToBytes, pcmBytesToInt16 } from '../../src/audio/convert.js';
import { ALAW_8K, MULAW_8K, PCM_8K, PCM_16K, PCM_24K, pcmFormat } from '../../src/audio/format.js';
import { alawDecode, alawEncode, mulawDecode, mulawEncode } from '../../src/audio/g711.js';
import { Resampler } from '../../src/audio/resample.js';

function speechLike(samples: number, rate: number): Int16Array {
  // A few harmonics of a 140 Hz voice with a slow envelope: in-band, varied, reproducible.
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    const t = i / rate;
    const env = 0.5 + 0.5 * Math.sin(2 * Math.PI * 3 * t);
    let v = 0;
    for (let h = 1; h <= 20; h++) if (140 * h < 3400) v += Math.sin(2 * Math.PI * 140 * h * t + h) / h;
    out[i] = Math.round(6000 * env * v);
  }
  return out;
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe('AudioConverter', () => {
  it('identity: same format hands back the very same input object', () => {
    const c = new AudioConverter(MULAW_8K, { encoding: 'mulaw', sampleRate: 8000, channels: 1 });
    expect(c.identity).toBe(true);
    const chunk = new Uint8Array([1, 2, 3]);
    expect(c.convert(chunk)).toBe(chunk);
    expect(c.flush().length).toBe(0);
    expect(new AudioConverter(MULAW_8K, PCM_8K).identity).toBe(false);
  });

  it('mu-law <-> A-law <-> pcm16 at the same rate equal the G.711 functions', () => {
    const pcm = speechLike(1600, 8000);
    const mu = mulawEncode(pcm);
    const toAlaw = new AudioConverter(MULAW_8K, ALAW_8K).convert(mu);
    expect(Array.from(toAlaw)).toEqual(Array.from(alawEncode(mulawDecode(mu))));
    const toPcm = new AudioConverter(ALAW_8K, PCM_8K).convert(toAlaw);
    expect(Array.from(pcmBytesToInt16(toPcm.slice()))).toEqual(Array.from(alawDecode(toAlaw)));
    const back = new AudioConverter(PCM_8K, MULAW_8K).convert(int16ToBytes(pcm));
    expect(Array.from(back)).toEqual(Array.from(mu));
  });

  it('mulaw 8k -> pcm16 16k -> mulaw 8k round trip in 20 ms frames keeps the signal (delay-compensated)', () => {
    const pcm = speechLike(16000, 8000); // 2 s
    const mu = mulawEncode(pcm);
    const up = new AudioConverter(MULAW_8K, PCM_16K);
    const down = new AudioConverter(PCM_16K, MULAW_8K);
    const parts: Uint8Array[] = [];
    for (let o = 0; o < mu.length; o += 160) {
      const wide = up.convert(mu.subarray(o, o + 160));
      expect(wide.length).toBe(640); // 160 samples at 8 kHz -> 320 samples at 16 kHz, 2 bytes each
      parts.push(down.convert(wide).slice());
    }
    parts.push(down.convert(up.flush()).slice());
    parts.push(down.flush().slice());
    const out = concatBytes(parts);
    // 8->16 delays by 58 samples at 16 kHz (29 at 8 kHz), 16->8 by 29 samples at 8 kHz.
    const delay = new Resampler(8000, 16000).delaySamples / 2 + new Resampler(16000, 8000).delaySamples;
    expect(out.length).toBe(mu.length + delay);
    const a = mulawDecode(mu);
    const b = mulawDecode(out.subarray(delay));
    let same = 0;
    let sig = 0;
    let err = 0;
    for (let i = 0; i < a.length; i++) {
      if (mu[i] === out[i + delay]) same++;
      sig += a[i]! ** 2;
      err += (a[i]! - b[i]!) ** 2;
    }
    // In-band audio survives: most codes identical, the rest within one quantization step (SNR of G.711 itself).
    expect(same / a.length).toBeGreaterThan(0.8);
    expect(10 * Math.log10(sig / err)).toBeGreaterThan(35);
  });

  it('pcm16 input split at odd byte boundaries gives the same output as whole (carried byte)', () => {
    const pcm = speechLike(4000, 16000);
    const bytes = int16ToBytes(pcm);
    const whole = new AudioConverter(PCM_16K, MULAW_8K);
    const expected = concatBytes([whole.convert(bytes).slice(), whole.flush().slice()]);
    const split = new AudioConverter(PCM_16K, MULAW_8K);
    const parts: Uint8Array[] = [];
    const sizes = [1, 3, 0, 5, 321, 2, 7, 640, 1];
    let o = 0;
    for (let k = 0; o < bytes.length; k++) {
      const n = sizes[k % sizes.length]!;
      // Copy into a fresh buffer at an odd offset, as a WebSocket payload can be.
      const chunk = bytes.subarray(o, o + n);
      const holder = new Uint8Array(chunk.length + 1);
      holder.set(chunk, 1);
      parts.push(split.convert(holder.subarray(1)).slice());
      o += n;
    }
    parts.push(split.flush().slice());
    expect(concatBytes(parts)).toEqual(expected);
  });

  it('pcm16 to pcm16 at another rate returns PCM bytes of the resampled signal', () => {
    const pcm = speechLike(2400, 24000);
    const c = new AudioConverter(PCM_24K, pcmFormat(8000));
    const out = concatBytes([c.convert(int16ToBytes(pcm)).slice(), c.flush().slice()]);
    const r = new Resampler(24000, 8000);
    const ref = new Int16Array([...r.process(pcm), ...r.flush()]);
    expect(Array.from(pcmBytesToInt16(out))).toEqual(Array.from(ref));
  });

  it('reuses its output buffer across equal frames', () => {
    const c = new AudioConverter(PCM_8K, MULAW_8K);
    const a = c.convert(new Uint8Array(320));
    const b = c.convert(new Uint8Array(320));
    expect(b).toBe(a);
    expect(a.length).toBe(160);
    const up = new AudioConverter(MULAW_8K, PCM_16K);
    const x = up.convert(new Uint8Array(160).fill(0xff));
    expect(up.convert(new Uint8Array(160).fill(0xff))).toBe(x);
    expect(x.length).toBe(640);
  });
});

describe('byte/sample helpers', () => {
  it('pcmBytesToInt16 is a view when aligned and a copy when not', () => {
    const buf = new Uint8Array([0x34, 0x12, 0xff, 0x7f, 0x00, 0x80, 0x01]);
    const v = pcmBytesToInt16(buf.subarray(0, 6));
    expect(Array.from(v)).toEqual([0x1234, 32767, -32768]);
    expect(v.buffer).toBe(buf.buffer);
    const odd = pcmBytesToInt16(buf.subarray(1, 7));
    expect(Array.from(odd)).toEqual([0xff12, 0x007f, 0x0180].map((x) => (x << 16) >> 16));
    expect(odd.buffer).not.toBe(buf.buffer);
    expect(pcmBytesToInt16(new Uint8Array(3)).length).toBe(1);
  });

  it('int16ToBytes is a little-endian view over the same memory', () => {
    const pcm = new Int16Array([1, -2]);
    const b = int16ToBytes(pcm);
    expect(Array.from(b)).toEqual([1, 0, 0xfe, 0xff]);
    b[0] = 5;
    expect(pcm[0]).toBe(5);
  });

  it('decodeToPcm16 handles every encoding, with and without dst', () => {
    const pcm = new Int16Array([0, 1000, -1000, 32767]);
    expect(Array.from(decodeToPcm16(mulawEncode(pcm), MULAW_8K))).toEqual(Array.from(mulawDecode(mulawEncode(pcm))));
    expect(Array.from(decodeToPcm16(alawEncode(pcm), ALAW_8K))).toEqual(Array.from(alawDecode(alawEncode(pcm))));
    const dst = new Int16Array(10);
    const out = decodeToPcm16(int16ToBytes(pcm), PCM_8K, dst);
    expect(out.buffer).toBe(dst.buffer);
    expect(Array.from(out)).toEqual([0, 1000, -1000, 32767]);
    expect(() => decodeToPcm16(new Uint8Array(40), PCM_8K, new Int16Array(2))).toThrow(RangeError);
  });
});
