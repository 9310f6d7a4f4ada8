import { describe, expect, it } from 'vitest';
import { createStoreLimiter } from '../../src/api/shared-rate-limit.js';
import { openStore } from '../../src/store/index.js';

describe('store-backed rate limiter (engines sharing a database)', () => {
  it('holds one budget across limiters on one store, sliding over the minute boundary', async () => {
    const store = openStore({ file: ':memory:' });
    let now = 1_700_000_040_000 + 40_000; // 40 s into a minute
    const a = createStoreLimiter(store.rateCounters, 5, () => now);
    const b = createStoreLimiter(store.rateCounters, 5, () => now);
    const oks = [];
    for (let i = 0; i < 8; i++) oks.push((await (i % 2 ? b : a).take('ip:1')).ok);
    expect(oks).toEqual([true, true, true, true, true, false, false, false]);
    const r = await a.take('ip:1');
    expect(!r.ok && r.retryAfterSec).toBe(20);
    expect((await b.take('ip:2')).ok).toBe(true);
    // 10 s into the next minute the previous minute (9 hits) still weighs 5/6: refused; a minute later, clear.
    now += 30_000;
    expect((await a.take('ip:1')).ok).toBe(false);
    now += 60_000;
    expect((await a.take('ip:1')).ok).toBe(true);
    await store.close();
  });
});
