import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFirstTenant } from '../../src/api/auth.js';
import { loadConfig } from '../../src/config.js';
import { openStore } from '../../src/store/index.js';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

describe('business auth', () => {
  it('accepts AI4CALL headers and CallAI bearer', async () => {
    expect((await h.call('GET', '/api/v1/assistants', { headers: h.a.h })).status).toBe(200);
    expect(
      (await h.call('GET', '/api/v1/assistants', { headers: { authorization: `Bearer ${h.a.key}` } })).status,
    ).toBe(200);
  });

  it('refuses missing, wrong, mismatched and revoked credentials with 401 in the error shape', async () => {
    const missing = await h.call('GET', '/api/v1/assistants');
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual({
      status: 'error',
      error: { code: 'UNAUTHORIZED', message: expect.stringContaining('Missing') },
    });
    const wrong = await h.call('GET', '/api/v1/assistants', {
      headers: { ...h.a.h, 'x-portal-api-key': `${h.a.key}x` },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('UNAUTHORIZED');
    // A valid key presented with another tenant's email.
    const mismatch = await h.call('GET', '/api/v1/assistants', { headers: { ...h.a.h, 'x-client-email': h.b.email } });
    expect(mismatch.status).toBe(401);
    const noEmail = await h.call('GET', '/api/v1/assistants', { headers: { 'x-portal-api-key': h.a.key } });
    expect(noEmail.status).toBe(401);
    expect((await h.call('GET', '/api/v1/assistants', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);

    // A second key, used then revoked through the API: refused afterwards, the first key still works.
    const created = await h.call('POST', '/api/v1/account/api-keys', { headers: h.a.h, body: { label: 'test' } });
    expect(created.status).toBe(201);
    const second = { 'x-client-email': h.a.email, 'x-portal-api-key': created.body.data.portalApiKey };
    expect((await h.call('GET', '/api/v1/assistants', { headers: second })).status).toBe(200);
    const keys = await h.call('GET', '/api/v1/account/api-keys', { headers: h.a.h });
    expect(keys.body.data.map((k: { label: string }) => k.label)).toEqual(['production', 'test']);
    expect(JSON.stringify(keys.body)).not.toContain(created.body.data.portalApiKey);
    expect(
      (await h.call('DELETE', `/api/v1/account/api-keys/${created.body.data.key.id}`, { headers: h.a.h })).status,
    ).toBe(200);
    expect((await h.call('GET', '/api/v1/assistants', { headers: second })).status).toBe(401);
    expect((await h.call('GET', '/api/v1/assistants', { headers: h.a.h })).status).toBe(200);
    // Tenant B cannot revoke tenant A's key.
    expect((await h.call('DELETE', `/api/v1/account/api-keys/${h.a.keyId}`, { headers: h.b.h })).status).toBe(404);
  });

  it('logs in with email + portalApiKey', async () => {
    const ok = await h.call('POST', '/api/v1/auth/portal/login', { body: { email: h.a.email, portalApiKey: h.a.key } });
    expect(ok.status).toBe(200);
    expect(ok.body.data).toMatchObject({ tenantId: h.a.id, email: h.a.email });
    const bad = await h.call('POST', '/api/v1/auth/portal/login', {
      body: { email: h.b.email, portalApiKey: h.a.key },
    });
    expect(bad.status).toBe(401);
    const invalid = await h.call('POST', '/api/v1/auth/portal/login', { body: { email: h.a.email } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.details).toEqual([expect.objectContaining({ field: 'portalApiKey' })]);
  });

  it('echoes or assigns request ids', async () => {
    const r = await h.call('GET', '/health', { headers: { 'x-request-id': 'trace-123' } });
    expect(r.headers.get('x-request-id')).toBe('trace-123');
    const r2 = await h.call('GET', '/api/v1/assistants');
    expect(r2.headers.get('x-request-id')).toMatch(/^req_/);
  });
});

describe('admin tenants', () => {
  it('needs ADMIN_API_KEY, creates tenants whose key works, issues and revokes keys, recharges', async () => {
    expect((await h.call('GET', '/api/v1/admin/tenants')).status).toBe(401);
    expect((await h.call('GET', '/api/v1/admin/tenants', { headers: { 'x-admin-api-key': 'wrong' } })).status).toBe(
      401,
    );
    // A tenant key is not an admin key.
    expect(
      (await h.call('GET', '/api/v1/admin/tenants', { headers: { authorization: `Bearer ${h.a.key}` } })).status,
    ).toBe(401);
    const admin = { 'x-admin-api-key': 'admin-secret' };
    const c = await h.call('POST', '/api/v1/admin/tenants', { headers: admin, body: { email: 'new@example.com' } });
    expect(c.status).toBe(201);
    const key = c.body.data.portalApiKey as string;
    expect((await h.call('GET', '/api/v1/assistants', { headers: { authorization: `Bearer ${key}` } })).status).toBe(
      200,
    );
    expect(
      (await h.call('POST', '/api/v1/admin/tenants', { headers: admin, body: { email: 'new@example.com' } })).status,
    ).toBe(409);
    const bad = await h.call('POST', '/api/v1/admin/tenants', { headers: admin, body: { email: 'not-an-email' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('email');
    const list = await h.call('GET', '/api/v1/admin/tenants', { headers: { authorization: 'Bearer admin-secret' } });
    expect(list.body.data.map((t: { email: string }) => t.email)).toContain('new@example.com');
    const tid = c.body.data.tenant.id as string;
    const k2 = await h.call('POST', `/api/v1/admin/tenants/${tid}/keys`, { headers: admin, body: { label: 'test' } });
    expect(k2.status).toBe(201);
    const got = await h.call('GET', `/api/v1/admin/tenants/${tid}`, { headers: admin });
    expect(got.body.data.keys).toHaveLength(2);
    expect(
      (await h.call('DELETE', `/api/v1/admin/tenants/${tid}/keys/${c.body.data.key.id}`, { headers: admin })).status,
    ).toBe(200);
    expect((await h.call('GET', '/api/v1/assistants', { headers: { authorization: `Bearer ${key}` } })).status).toBe(
      401,
    );
    const credit = await h.call('POST', `/api/v1/admin/tenants/${tid}/credit`, {
      headers: admin,
      body: { amountCents: 1500 },
    });
    expect(credit.body.data.creditCents).toBe(1500);
    expect((await h.call('GET', '/api/v1/admin/tenants/t_missing', { headers: admin })).status).toBe(404);
  });

  it('is disabled without ADMIN_API_KEY', async () => {
    const h2 = await startHarness({}, { ADMIN_API_KEY: '' });
    try {
      const r = await h2.call('GET', '/api/v1/admin/tenants', { headers: { 'x-admin-api-key': '' } });
      expect(r.status).toBe(403);
    } finally {
      await h2.close();
    }
  });
});

describe('first tenant', () => {
  it('uses PORTAL_EMAIL/PORTAL_API_KEY, or generates and prints a key once', async () => {
    const store = openStore({ file: ':memory:' });
    const printed: string[] = [];
    const cfg = loadConfig({ PORTAL_EMAIL: 'ops@example.com', PORTAL_API_KEY: 'my-chosen-key-123' });
    expect(await ensureFirstTenant(store, cfg, (l) => printed.push(l))).toMatchObject({ created: true });
    expect(await ensureFirstTenant(store, cfg, (l) => printed.push(l))).toMatchObject({ created: false });
    expect((await store.apiKeys.verify('my-chosen-key-123'))?.tenant.email).toBe('ops@example.com');
    expect(printed).toEqual([]);
    store.close();

    const s2 = openStore({ file: ':memory:' });
    const none = loadConfig({});
    await ensureFirstTenant(s2, none, (l) => printed.push(l));
    await ensureFirstTenant(s2, none, (l) => printed.push(l));
    expect(printed).toHaveLength(1);
    const key = /portalApiKey=(\S+)/.exec(printed[0]!)?.[1];
    expect((await s2.apiKeys.verify(key!))?.tenant.email).toBe('admin@localhost');
    s2.close();
  });
});

describe('rate limit and IP allowlist', () => {
  it('answers 429 with Retry-After past the per-minute budget', async () => {
    const h2 = await startHarness({}, { RATE_LIMIT_PER_MINUTE: '5' });
    try {
      const statuses: number[] = [];
      let last: Awaited<ReturnType<Harness['call']>> | undefined;
      for (let i = 0; i < 7; i++) {
        last = await h2.call('GET', '/api/v1/assistants', { headers: h2.a.h });
        statuses.push(last.status);
      }
      expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      expect(statuses[6]).toBe(429);
      expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(last!.body.error.code).toBe('RATE_LIMITED');
      // The health probe is never limited.
      expect((await h2.call('GET', '/health')).status).toBe(200);
    } finally {
      await h2.close();
    }
  });

  it('limits per account too (shared limiter behind the RateLimiter interface)', async () => {
    const taken: string[] = [];
    const h2 = await startHarness({
      rateLimiter: {
        async take(key) {
          taken.push(key);
          return key.startsWith('acct:') ? { ok: false, retryAfterSec: 7 } : { ok: true };
        },
      },
    });
    try {
      const r = await h2.call('GET', '/api/v1/assistants', { headers: h2.a.h });
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('7');
      expect(r.body.error.code).toBe('RATE_LIMITED');
      // Authenticated: counted per account only (tenants behind one NAT do not share a budget).
      expect(taken).toEqual([`acct:${h2.a.id}`]);
      taken.length = 0;
      // Bad credentials: counted per IP.
      await h2.call('GET', '/api/v1/assistants', { headers: { authorization: 'Bearer nope' } });
      expect(taken).toEqual(['ip:127.0.0.1']);
    } finally {
      await h2.close();
    }
  });

  it('enforces the allowlist on business routes (IPv4, CIDR, IPv6) and validates entries', async () => {
    const bad = await h.call('PUT', '/api/v1/account/allowed-ips', {
      headers: h.b.h,
      body: { entries: ['10.0.0.0/33', 'nope'] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { field: string }) => d.field)).toEqual(['entries.0', 'entries.1']);
    const lockout = await h.call('PUT', '/api/v1/account/allowed-ips', {
      headers: h.b.h,
      body: { entries: ['10.0.0.0/8', '2001:db8::/32'] },
    });
    expect(lockout.status).toBe(422);
    expect(lockout.body.error.message).toContain('127.0.0.1');
    expect(
      (
        await h.call('PUT', '/api/v1/account/allowed-ips', {
          headers: h.b.h,
          body: { entries: ['10.0.0.0/8', '2001:db8::/32'], force: true },
        })
      ).status,
    ).toBe(200);
    const blocked = await h.call('GET', '/api/v1/assistants', { headers: h.b.h });
    expect(blocked.status).toBe(403);
    expect(blocked.body.error.code).toBe('IP_NOT_ALLOWED');
    // Tenant A has no allowlist: unaffected.
    expect((await h.call('GET', '/api/v1/assistants', { headers: h.a.h })).status).toBe(200);
    // Locked out over HTTP; the operator fixes it in the store, then the loopback CIDR is allowed.
    await h.store.account.setAllowedIps(h.b.id, ['127.0.0.0/8', '::1']);
    expect((await h.call('GET', '/api/v1/assistants', { headers: h.b.h })).status).toBe(200);
    expect((await h.call('GET', '/api/v1/account/allowed-ips', { headers: h.b.h })).body.data.entries).toEqual([
      '127.0.0.0/8',
      '::1',
    ]);
    await h.store.account.setAllowedIps(h.b.id, []);
  });

  it('behind a trusted proxy, checks the client IP from X-Forwarded-For', async () => {
    const h2 = await startHarness({}, { TRUST_PROXY: '127.0.0.1' });
    try {
      await h2.store.account.setAllowedIps(h2.a.id, ['203.0.113.0/24']);
      const ok = await h2.call('GET', '/api/v1/assistants', {
        headers: { ...h2.a.h, 'x-forwarded-for': '203.0.113.9' },
      });
      expect(ok.status).toBe(200);
      const no = await h2.call('GET', '/api/v1/assistants', {
        headers: { ...h2.a.h, 'x-forwarded-for': '198.51.100.1' },
      });
      expect(no.status).toBe(403);
    } finally {
      await h2.close();
    }
    // Without TRUST_PROXY the header is ignored: a client cannot claim an allowed address.
    await h.store.account.setAllowedIps(h.b.id, ['203.0.113.0/24']);
    const spoof = await h.call('GET', '/api/v1/assistants', {
      headers: { ...h.b.h, 'x-forwarded-for': '203.0.113.9' },
    });
    expect(spoof.status).toBe(403);
    await h.store.account.setAllowedIps(h.b.id, []);
  });
});
