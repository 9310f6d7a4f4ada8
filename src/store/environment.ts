import type { Store } from './types.js';

/** Whether a tenant is a test twin; environments never change, so answers are kept (bounded). */
export function testModeOf(store: Pick<Store, 'tenants'>): (tenantId: string) => Promise<boolean> {
  const known = new Map<string, boolean>();
  return async (tenantId) => {
    const hit = known.get(tenantId);
    if (hit !== undefined) return hit;
    const test = (await store.tenants.get(tenantId))?.environment === 'test';
    if (known.size > 10_000) known.clear();
    known.set(tenantId, test);
    return test;
  };
}
