import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { createGuardedFetch } from '../../src/net/egress.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createWebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import { signPayload, verifySignature } from '../../src/webhooks/signature.js';
import { startReceiver } from './receiver.js';

let dir: string;
let store: Store;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wh-'));
  store = openStore({ dataDir: dir });
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('signature', () => {
  it('verifies its own signature, rejects tampering and stale timestamps', () => {
    const now = 1_700_000_000;
    const sig = signPayload('whsec_x', '{"a":1}', now);
    expect(sig).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature('whsec_x', '{"a":1}', sig, now)).toBe(true);
    expect(verifySignature('whsec_x', '{"a":2}', sig, now)).toBe(false);
    expect(verifySignature('whsec_y', '{"a":1}', sig, now)).toBe(false);
    expect(verifySignature('whsec_x', '{"a":1}', sig, now + 3600)).toBe(false);
    expect(verifySignature('whsec_x', '{"a":1}', 'garbage', now)).toBe(false);
  });
});

describe('dispatcher', () => {
  it('delivers signed events with id, type and timestamp headers', async () => {
    const rx = await startReceiver();
    const t = await store.tenants.create({ email: 'a@x' });
    const ep = await store.webhooks.createEndpoint(t.id, { url: rx.url, events: ['call.ended'] });
    const d = createWebhookDispatcher({ store, logger: silentLogger, pollMs: 20 });
    d.start();
    await d.enqueue(t.id, 'call.ended', { callId: 'c_1', summary: 'ok', transcript: [{ role: 'user', text: 'hi' }] });
    await d.enqueue(t.id, 'call.started', { callId: 'c_1' }); // not subscribed: never sent
    await rx.waitFor(1);
    await d.stop();
    const got = rx.received[0]!;
    expect(verifySignature(ep.secret, got.body, got.headers['x-webhook-signature']!)).toBe(true);
    expect(got.headers['x-webhook-event']).toBe('call.ended');
    expect(got.headers['x-webhook-id']).toMatch(/^evt_/);
    expect(got.headers['x-webhook-timestamp']).toMatch(/^\d+$/);
    const body = JSON.parse(got.body);
    expect(body).toMatchObject({
      id: got.headers['x-webhook-id'],
      type: 'call.ended',
      version: 1,
      created_at: expect.any(String),
      data: { call_id: 'c_1', summary: 'ok' },
    });
    expect(rx.received).toHaveLength(1);
    await rx.close();
  });

  it('retries with backoff against a failing receiver until it recovers; same event id each time; attempts recorded', async () => {
    const rx = await startReceiver([500, 503]);
    const t = await store.tenants.create({ email: 'a@x' });
    const ep = await store.webhooks.createEndpoint(t.id, { url: rx.url, events: ['call.failed'] });
    const d = createWebhookDispatcher({ store, logger: silentLogger, pollMs: 10, baseDelayMs: 20 });
    d.start();
    await d.enqueue(t.id, 'call.failed', { callId: 'c_9', reason: 'busy' });
    await rx.waitFor(3);
    await d.stop();
    const ids = new Set(rx.received.map((r) => r.headers['x-webhook-id']));
    expect(ids.size).toBe(1);
    expect(rx.received.map((r) => r.headers['x-webhook-attempt'])).toEqual(['1', '2', '3']);
    const attempts = await store.webhooks.listAttempts(t.id, ep.id);
    expect(attempts.rows.map((a) => [a.attempt, a.ok, a.statusCode])).toEqual([
      [3, true, 200],
      [2, false, 503],
      [1, false, 500],
    ]);
    await rx.close();
  });

  it('a dead endpoint does not hold up others and ends dead after maxAttempts', async () => {
    const good = await startReceiver();
    const t = await store.tenants.create({ email: 'a@x' });
    // Port 9 on loopback: connection refused at once.
    const dead = await store.webhooks.createEndpoint(t.id, {
      url: 'http://127.0.0.1:9/hook',
      events: ['call.started'],
    });
    await store.webhooks.createEndpoint(t.id, { url: good.url, events: ['call.started'] });
    const d = createWebhookDispatcher({ store, logger: silentLogger, maxAttempts: 2, baseDelayMs: 1 });
    await d.enqueue(t.id, 'call.started', { callId: 'c_2' });
    await d.flush();
    expect(good.received).toHaveLength(1);
    // Let the dead endpoint's retry become due, then flush again: it is marked dead, not retried forever.
    await new Promise((r) => setTimeout(r, 5));
    await d.flush();
    const at = await store.webhooks.listAttempts(t.id, dead.id);
    expect(at.rows).toHaveLength(2);
    expect(at.rows.every((a) => !a.ok && a.error)).toBe(true);
    expect((await store.webhooks.getDelivery(at.rows[0]!.deliveryId))?.status).toBe('dead');
    await good.close();
  });

  it('a hanging endpoint holds one delivery slot, never the others', async () => {
    const sockets = new Set<import('node:net').Socket>();
    let hung = 0;
    const hang = createServer(() => {
      hung++; // never answers
    });
    hang.on('connection', (c) => sockets.add(c));
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const good = await startReceiver();
    const t = await store.tenants.create({ email: 'a@x' });
    await store.webhooks.createEndpoint(t.id, {
      url: `http://127.0.0.1:${(hang.address() as AddressInfo).port}/`,
      events: ['call.ended'],
    });
    await store.webhooks.createEndpoint(t.id, { url: good.url, events: ['call.ended'] });
    const d = createWebhookDispatcher({ store, logger: silentLogger, concurrency: 2, timeoutMs: 60_000, pollMs: 10 });
    // Three events: each goes to both endpoints; the hanging one's three deliveries come first in the outbox.
    for (let i = 0; i < 3; i++) await d.enqueue(t.id, 'call.ended', { callId: `c_${i}` });
    d.start();
    await good.waitFor(3);
    expect(hung).toBe(1);
    for (const c of sockets) c.destroy();
    await d.stop();
    hang.close();
    await good.close();
  });

  it('loses no event across a restart mid-retry (same SQLite file reopened)', async () => {
    const rx = await startReceiver([500]);
    const t = await store.tenants.create({ email: 'a@x' });
    const ep = await store.webhooks.createEndpoint(t.id, { url: rx.url, events: ['call.ended'] });
    const d1 = createWebhookDispatcher({ store, logger: silentLogger, baseDelayMs: 300 });
    await d1.enqueue(t.id, 'call.ended', { callId: 'c_3' });
    await d1.flush();
    expect(rx.received).toHaveLength(1);
    // The first attempt failed and its retry is scheduled; the engine stops before it is due.
    await d1.stop();
    store.close();

    store = openStore({ dataDir: dir });
    const [first] = (await store.webhooks.listAttempts(t.id, ep.id)).rows;
    expect((await store.webhooks.getDelivery(first!.deliveryId))?.status).toBe('pending');
    const d2 = createWebhookDispatcher({ store, logger: silentLogger, pollMs: 10 });
    d2.start();
    await rx.waitFor(2);
    await d2.stop();
    expect(rx.received[1]!.headers['x-webhook-id']).toBe(rx.received[0]!.headers['x-webhook-id']);
    expect(rx.received[1]!.body).toBe(rx.received[0]!.body);
    expect((await store.webhooks.getDelivery(first!.deliveryId))?.status).toBe('delivered');
    await rx.close();
  });
});

describe('dispatcher egress guard (src/net/egress.ts)', () => {
  it('refuses cloud metadata endpoints by default and records why; other endpoints still deliver', async () => {
    const rx = await startReceiver();
    const t = await store.tenants.create({ email: 'a@x' });
    // Straight into the store: the connect-time guard must hold even when API validation was bypassed.
    const bad = await store.webhooks.createEndpoint(t.id, {
      url: 'http://0xa9fea9fe/latest/meta-data/',
      events: ['call.ended'],
    });
    const good = await store.webhooks.createEndpoint(t.id, { url: rx.url, events: ['call.ended'] });
    const d = createWebhookDispatcher({ store, logger: silentLogger, pollMs: 60_000 });
    await d.enqueue(t.id, 'call.ended', { callId: 'c_m' });
    await d.flush();
    await d.stop();
    const refused = await store.webhooks.listAttempts(t.id, bad.id);
    expect(refused.rows).toHaveLength(1);
    expect(refused.rows[0]).toMatchObject({ ok: false });
    expect(refused.rows[0]!.error).toMatch(/Egress refused: 169\.254\.169\.254 .*link-local/);
    expect((await store.webhooks.listAttempts(t.id, good.id)).rows[0]).toMatchObject({ ok: true, statusCode: 200 });
    expect(rx.received).toHaveLength(1);
    await rx.close();
  });

  it('with blockPrivate a loopback endpoint is refused before any byte is sent', async () => {
    const rx = await startReceiver();
    const t = await store.tenants.create({ email: 'a@x' });
    const ep = await store.webhooks.createEndpoint(t.id, { url: rx.url, events: ['call.ended'] });
    const d = createWebhookDispatcher({
      store,
      logger: silentLogger,
      pollMs: 60_000,
      fetch: createGuardedFetch({ blockPrivate: true }),
    });
    await d.enqueue(t.id, 'call.ended', { callId: 'c_p' });
    await d.flush();
    await d.stop();
    expect((await store.webhooks.listAttempts(t.id, ep.id)).rows[0]!.error).toMatch(/127\.0\.0\.1 .*loopback/);
    expect(rx.received).toHaveLength(0);
    await rx.close();
  });
});
