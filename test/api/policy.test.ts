import { describe, expect, it } from 'vitest';
import { admitCall } from '../../src/api/call-limits.js';
import { checkIpEntry, ipMatches, isIpAllowed } from '../../src/api/ip-allowlist.js';
import { resolveByNumber } from '../../src/api/number-routing.js';
import { createTokenBucketLimiter } from '../../src/api/rate-limit.js';
import { openStore } from '../../src/store/index.js';

describe('ip allowlist', () => {
  it('matches addresses and CIDRs, IPv4 and IPv6, and v4-mapped v6', () => {
    const list = ['203.0.113.7', '10.0.0.0/8', '2001:db8::/32', '::1'];
    expect(ipMatches(list, '203.0.113.7')).toBe(true);
    expect(ipMatches(list, '203.0.113.8')).toBe(false);
    expect(ipMatches(list, '10.200.3.4')).toBe(true);
    expect(ipMatches(list, '::ffff:10.1.1.1')).toBe(true);
    expect(ipMatches(list, '2001:db8:1::5')).toBe(true);
    expect(ipMatches(list, '2001:db9::5')).toBe(false);
    expect(ipMatches(list, '::1')).toBe(true);
    expect(ipMatches(list, 'garbage')).toBe(false);
    expect(ipMatches([], '1.2.3.4')).toBe(true);
    expect(checkIpEntry('10.0.0.0/8')).toBeNull();
    expect(checkIpEntry('fe80::/129')).toMatch(/prefix/);
    expect(checkIpEntry('1.2.3.4/8/1')).toMatch(/not an IP/);
  });

  it('isIpAllowed reads the tenant allowlist from the store', async () => {
    const store = openStore({ file: ':memory:' });
    const t = await store.tenants.create({ email: 'a@x' });
    expect(await isIpAllowed(store, t.id, '8.8.8.8')).toBe(true);
    await store.account.setAllowedIps(t.id, ['192.168.0.0/16']);
    expect(await isIpAllowed(store, t.id, '8.8.8.8')).toBe(false);
    expect(await isIpAllowed(store, t.id, '192.168.4.4')).toBe(true);
    store.close();
  });
});

describe('token bucket', () => {
  it('allows the budget, then refuses with Retry-After, then refills with time', async () => {
    let now = 0;
    const rl = createTokenBucketLimiter(3, () => now);
    expect((await rl.take('k')).ok).toBe(true);
    expect((await rl.take('k')).ok).toBe(true);
    expect((await rl.take('k')).ok).toBe(true);
    const r = await rl.take('k');
    expect(r).toEqual({ ok: false, retryAfterSec: 20 });
    expect((await rl.take('other')).ok).toBe(true);
    now += 20_000;
    expect((await rl.take('k')).ok).toBe(true);
  });
});

describe('call limits and number routing', () => {
  it('refuses past concurrent and per-period limits', async () => {
    const store = openStore({ file: ':memory:' });
    const t = await store.tenants.create({ email: 'a@x' });
    const inbound = {
      create: { tenantId: t.id, assistantId: 'ag', direction: 'inbound', status: 'in-progress' },
    } as const;
    const c = await admitCall(store, t.id, inbound);
    expect(c.ok && c.record.status).toBe('in-progress');
    await store.account.setCallLimits(t.id, { maxConcurrent: 1, maxPerHour: 2 });
    const r = await admitCall(store, t.id, inbound);
    expect(!r.ok && r.reason).toMatch(/Concurrent/);
    if (c.ok) await store.calls.update(c.record.id, { status: 'completed' });
    const q = await admitCall(store, t.id, { create: { tenantId: t.id, assistantId: 'ag', direction: 'outbound' } });
    expect(q.ok && q.record.status).toBe('queued');
    const p = await admitCall(store, t.id, inbound);
    expect(!p.ok && p.reason).toMatch(/per hour/);
    // Dialing the queued call: already counted in the hour, only the line matters.
    const d = await admitCall(
      store,
      t.id,
      { activate: { id: q.ok ? q.record.id : '', status: 'ringing' } },
      {
        concurrentOnly: true,
      },
    );
    expect(d.ok && d.record.status).toBe('ringing');
    await store.close();
  });

  it('resolves a called number to its assistant', async () => {
    const store = openStore({ file: ':memory:' });
    const t = await store.tenants.create({ email: 'a@x' });
    const a = await store.assistants.create(t.id, { prompt: 'p' });
    await store.numberRouting.set(t.id, '+1 555 0100', a.id);
    expect((await resolveByNumber(store, '+15550100'))?.assistantApiKey).toBe(a.assistantApiKey);
    expect(await resolveByNumber(store, '+19999')).toBeUndefined();
    store.close();
  });
});
