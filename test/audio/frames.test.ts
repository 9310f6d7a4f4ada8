import { describe, expect, it } from 'vitest';
import { ALAW_8K, MULAW_8K, PCM_8K, PCM_16K, PCM_24K } from '../../src/audio/format.js';
import { FrameSlicer, frameBytes } from '../../src/audio/frames.js';

function ramp(n: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => i & 0xff);
}

function collect(slicer: FrameSlicer, chunks: Uint8Array[]): number[][] {
  const frames: number[][] = [];
  for (const c of chunks) slicer.push(c, (f) => frames.push(Array.from(f)));
  return frames;
}

describe('frameBytes', () => {
  it('gives 20 ms sizes for the engine formats', () => {
    expect(frameBytes(MULAW_8K)).toBe(160);
    expect(frameBytes(ALAW_8K)).toBe(160);
    expect(frameBytes(PCM_8K)).toBe(320);
    expect(frameBytes(PCM_16K)).toBe(640);
    expect(frameBytes(PCM_24K)).toBe(960);
    expect(frameBytes(MULAW_8K, 10)).toBe(80);
    expect(frameBytes({ encoding: 'pcm16', sampleRate: 44100, channels: 1 })).toBe(1764);
  });
});

describe('FrameSlicer', () => {
  it('re-chunks arbitrary chunk sizes into exact frames, in order, with nothing lost', () => {
    const data = ramp(1000);
    const sizes = [1, 159, 160, 161, 0, 7, 320, 192];
    const chunks: Uint8Array[] = [];
    let o = 0;
    for (const n of sizes) {
      chunks.push(data.subarray(o, o + n));
      o += n;
    }
    const s = new FrameSlicer(160);
    const frames = collect(s, chunks);
    expect(frames.length).toBe(6);
    expect(frames.flat()).toEqual(Array.from(data.subarray(0, 960)));
    expect(s.buffered).toBe(40);
    expect(Array.from(s.flush()!)).toEqual(Array.from(data.subarray(960)));
    expect(s.buffered).toBe(0);
    expect(s.flush()).toBeNull();
  });

  it('one chunk holding many frames emits all of them; an exact frame leaves nothing buffered', () => {
    const s = new FrameSlicer(160);
    expect(collect(s, [ramp(160 * 5)]).length).toBe(5);
    expect(s.buffered).toBe(0);
    expect(collect(s, [ramp(160)]).length).toBe(1);
    expect(s.flush()).toBeNull();
  });

  it('hands every frame out in one reused, aligned buffer (no allocation per frame)', () => {
    const s = new FrameSlicer(320);
    const seen = new Set<Uint8Array>();
    s.push(ramp(320 * 3 + 17), (f) => {
      seen.add(f);
      expect(f.byteOffset).toBe(0);
      expect(f.length).toBe(320);
    });
    s.push(ramp(303), (f) => seen.add(f));
    expect(seen.size).toBe(1);
  });

  it('flush pads the partial frame with the given silence byte', () => {
    const s = new FrameSlicer(8);
    s.push(new Uint8Array([1, 2, 3]), () => {
      throw new Error('no full frame yet');
    });
    expect(Array.from(s.flush(0xff)!)).toEqual([1, 2, 3, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(s.buffered).toBe(0);
    s.push(new Uint8Array([9]), () => {});
    expect(Array.from(s.flush(0)!)).toEqual([9, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('empty pushes and reset()', () => {
    const s = new FrameSlicer(4);
    expect(collect(s, [new Uint8Array(0)])).toEqual([]);
    s.push(new Uint8Array([1, 2]), () => {});
    s.reset();
    expect(s.buffered).toBe(0);
    expect(collect(s, [new Uint8Array([5, 6, 7, 8])])).toEqual([[5, 6, 7, 8]]);
  });

  it('a frame size of one byte works, and bad sizes are refused', () => {
    const s = new FrameSlicer(1);
    expect(collect(s, [new Uint8Array([1, 2, 3])])).toEqual([[1], [2], [3]]);
    expect(() => new FrameSlicer(0)).toThrow(RangeError);
    expect(() => new FrameSlicer(1.5)).toThrow(/positive whole number/);
  });
});
