import { afterEach, describe, expect, it, vi } from 'vitest';
import { admitCall } from '../../src/api/call-limits.js';
import { openStore, type Store } from '../../src/store/index.js';

/**
 * Admission takes the per-tenant lock (CallsRepo.admit: count and create as one step across engines) only when a
 * limit is set: without one there is nothing to count, and a burst of call starts must not queue behind it.
 */
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

async function tenant() {
  const store = openStore({ file: ':memory:' });
  stores.push(store);
  const t = await store.tenants.create({ email: 'limits@example.com' });
  const a = await store.assistants.create(t.id, {});
  const create = { tenantId: t.id, assistantId: a.id, direction: 'inbound' as const, status: 'in-progress' as const };
  return { store, tenantId: t.id, create, admit: vi.spyOn(store.calls, 'admit') };
}

describe('admitCall', () => {
  it('creates the call without the counting lock when the tenant has no limits', async () => {
    const t = await tenant();
    const r = await admitCall(t.store, t.tenantId, { create: t.create });
    expect(r.ok).toBe(true);
    expect(t.admit).not.toHaveBeenCalled();
    if (r.ok) expect((await t.store.calls.get(t.tenantId, r.record.id))?.status).toBe('in-progress');
  });

  it('counts under the lock once a limit is set, and refuses past it', async () => {
    const t = await tenant();
    await t.store.account.setCallLimits(t.tenantId, { maxConcurrent: 1 });
    expect((await admitCall(t.store, t.tenantId, { create: t.create })).ok).toBe(true);
    const second = await admitCall(t.store, t.tenantId, { create: t.create });
    expect(second).toMatchObject({ ok: false, reason: expect.stringMatching(/Concurrent call limit/) });
    expect(t.admit).toHaveBeenCalledTimes(2);
  });
});
