import { describe, expect, it } from 'vitest';
import { Reorderer } from '../../src/telephony/reorder.js';

function run(order: number[], depth = 3): { out: number[]; late: number } {
  const out: number[] = [];
  const r = new Reorderer(depth, (b) => out.push(b[0]!));
  for (const n of order) r.push(n, Uint8Array.of(n));
  return { out, late: r.late };
}

describe('Reorderer', () => {
  it('releases frames in chunk order', () => {
    expect(run([1, 3, 2, 5, 4, 6]).out).toEqual([1, 2, 3, 4, 5, 6]);
  });
  it('gives up on a lost frame once `depth` frames are held, and drops it if it comes later', () => {
    const { out, late } = run([1, 3, 4, 5, 6, 2, 7]);
    expect(out).toEqual([1, 3, 4, 5, 6, 7]);
    expect(late).toBe(1);
  });
  it('ignores duplicates', () => {
    expect(run([1, 3, 3, 2, 2, 4]).out).toEqual([1, 2, 3, 4]);
  });
});
