import { describe, expect, it } from 'vitest';
import { ByteRing } from '../../src/telephony/ring.js';

describe('ByteRing', () => {
  it('keeps FIFO order across wrap-around and growth while wrapped, and never exceeds its bound', () => {
    const ring = new ByteRing(64, 8);
    const out = new Uint8Array(64);
    let next = 0;
    let expectNext = 0;
    for (let round = 0; round < 200; round++) {
      const n = (round * 5) % 13;
      const chunk = Uint8Array.from({ length: n }, () => next++ & 0xff);
      const written = ring.write(chunk);
      expect(ring.length).toBeLessThanOrEqual(64);
      next -= n - written; // what did not fit was never queued
      const take = Math.min(ring.length, (round * 3) % 11);
      ring.read(out, take);
      for (let i = 0; i < take; i++) expect(out[i]).toBe(expectNext++ & 0xff);
    }
    const rest = ring.length;
    ring.read(out, rest);
    for (let i = 0; i < rest; i++) expect(out[i]).toBe(expectNext++ & 0xff);
    expect(expectNext).toBe(next);
  });

  it('drops what does not fit and reports it', () => {
    const ring = new ByteRing(10, 4);
    expect(ring.write(new Uint8Array(7))).toBe(7);
    expect(ring.write(new Uint8Array(7))).toBe(3);
    expect(ring.length).toBe(10);
    ring.clear();
    expect(ring.length).toBe(0);
  });
});
