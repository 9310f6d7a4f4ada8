import { describe, expect, it } from 'vitest';
import { backoffDelay, retry } from '../src/retry.js';

describe('backoffDelay', () => {
  it('doubles from baseMs per attempt up to the cap', () => {
    const b = { baseMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, b))).toEqual([100, 200, 400, 800, 1000]);
  });

  it("'equal' jitter stays within [cap/2, cap]; a factor f within [1-f, 1+f] of the cap", () => {
    const at = (r: number) => ({ baseMs: 200, maxMs: 3000, random: () => r });
    expect(backoffDelay(3, { ...at(0), jitter: 'equal' })).toBe(400);
    expect(backoffDelay(3, { ...at(0.999999), jitter: 'equal' })).toBe(800);
    expect(backoffDelay(1, { ...at(0), jitter: 0.2 })).toBe(160);
    expect(backoffDelay(1, { ...at(1), jitter: 0.2 })).toBe(240);
    expect(backoffDelay(9, { ...at(0.5), jitter: 0.2 })).toBe(3000);
  });
});

describe('retry', () => {
  it('tries again until it works, within maxAttempts', async () => {
    const seen: number[] = [];
    const r = await retry(
      async (n) => {
        seen.push(n);
        if (n < 3) throw new Error(`fail ${n}`);
        return 'ok';
      },
      { backoff: 0, maxAttempts: 3 },
    );
    expect(r).toBe('ok');
    expect(seen).toEqual([1, 2, 3]);
  });

  it('rejects with the last failure when attempts run out', async () => {
    let n = 0;
    await expect(
      retry(
        async (a) => {
          n = a;
          throw new Error(`fail ${a}`);
        },
        { backoff: 0, maxAttempts: 2 },
      ),
    ).rejects.toThrow('fail 2');
    expect(n).toBe(2);
  });

  it('stops at once on a failure retryable() refuses', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new Error('auth');
        },
        { backoff: 0, maxAttempts: 5, retryable: (e) => (e as Error).message !== 'auth' },
      ),
    ).rejects.toThrow('auth');
    expect(calls).toBe(1);
  });

  it('gives up when the next wait would pass the deadline', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new Error('down');
        },
        { backoff: { baseMs: 60_000, maxMs: 60_000 }, deadline: Date.now() + 1000 },
      ),
    ).rejects.toThrow('down');
    expect(calls).toBe(1);
  });

  it('waitFirst waits before the first try too; an abort ends the wait', async () => {
    const ctrl = new AbortController();
    let calls = 0;
    const p = retry(
      async () => {
        calls++;
      },
      { backoff: { baseMs: 60_000, maxMs: 60_000 }, waitFirst: true, signal: ctrl.signal },
    );
    ctrl.abort();
    await expect(p).rejects.toThrow('aborted');
    expect(calls).toBe(0);
  });
});
