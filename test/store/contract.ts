import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.js';

/**
 * One repository contract, run against every store (SQLite always, Postgres when its binaries are installed): the
 * same calls give the same answers. `open()` gives a store on fresh, empty data; `another()` a second handle on the
 * same data, as a second engine process would hold.
 */
export interface StoreFixture {
  open(): Promise<Store>;
  another(): Promise<Store>;
  cleanup?(): Promise<void>;
}

export function storeContract(fixture: StoreFixture): void {
  let store: Store;
  const others: Store[] = [];
  const another = async () => {
    const s = await fixture.another();
    others.push(s);
    return s;
  };
  beforeEach(async () => {
    store = await fixture.open();
  });
  afterEach(async () => {
    for (const s of others.splice(0)) await s.close();
    await store.close();
    await fixture.cleanup?.();
  });

  describe('tenants and keys', () => {
    it('stores keys hashed, verifies, lists several per tenant, revokes', async () => {
      const t = await store.tenants.create({ email: 'a@example.com' });
      const prod = await store.apiKeys.create(t.id, { label: 'production' });
      const test = await store.apiKeys.create(t.id, { label: 'test' });
      expect(prod.secret).toMatch(/^vek_/);
      expect((await store.apiKeys.verify(prod.secret))?.tenant.email).toBe('a@example.com');
      expect((await store.apiKeys.verify(test.secret))?.keyId).toBe(test.key.id);
      expect(await store.apiKeys.verify(`${prod.secret}x`)).toBeUndefined();
      expect((await store.apiKeys.list(t.id)).map((k) => k.label)).toEqual(['production', 'test']);
      expect(JSON.stringify(await store.apiKeys.list(t.id))).not.toContain(prod.secret);
      expect(await store.apiKeys.revoke(t.id, prod.key.id)).toBe(true);
      expect(await store.apiKeys.verify(prod.secret)).toBeUndefined();
      expect(await store.apiKeys.verify(test.secret)).toBeDefined();
      expect((await store.tenants.getByEmail('A@EXAMPLE.com'))?.id).toBe(t.id);
    });
  });

  describe('test mode', () => {
    it("a tenant's test twin: created once (from any handle), keyed like any tenant, showing the live email", async () => {
      const t = await store.tenants.create({ email: 'live@example.com' });
      expect(t.environment).toBe('production');
      const twin = await store.tenants.testTwin(t.id);
      expect(twin).toMatchObject({ environment: 'test', liveId: t.id });
      expect(twin.id).not.toBe(t.id);
      expect((await (await another()).tenants.testTwin(t.id)).id).toBe(twin.id);
      await expect(store.tenants.testTwin(twin.id)).rejects.toThrow(/no live tenant/);
      expect((await store.tenants.list()).map((x) => x.id)).toEqual([t.id]);
      expect(await store.tenants.count()).toBe(1);
      const { secret } = await store.apiKeys.create(twin.id, { label: 'test' });
      const m = await store.apiKeys.verify(secret);
      expect(m?.tenant).toMatchObject({ id: twin.id, email: 'live@example.com', environment: 'test', liveId: t.id });
      expect((await store.apiKeys.verify((await store.apiKeys.create(t.id)).secret))?.tenant.environment).toBe(
        'production',
      );
      // Data written under the twin is the twin's only.
      await store.assistants.create(twin.id, { prompt: 'test' });
      expect((await store.assistants.list(t.id)).rows).toHaveLength(0);
      expect((await store.assistants.list(twin.id)).rows).toHaveLength(1);
    });
  });

  describe('assistants', () => {
    it('creates with both ids, bumps version, scopes by tenant', async () => {
      const a = await store.tenants.create({ email: 'a@x' });
      const b = await store.tenants.create({ email: 'b@x' });
      const ast = await store.assistants.create(a.id, { prompt: 'hi' });
      expect(ast.id).toMatch(/^ag_/);
      expect(ast.assistantApiKey).toMatch(/^ast_/);
      expect(ast.version).toBe(1);
      expect(await store.assistants.getByKey(b.id, ast.assistantApiKey)).toBeUndefined();
      expect(await store.assistants.update(b.id, ast.id, {})).toBeUndefined();
      const up = await store.assistants.update(a.id, ast.id, { prompt: 'bye' });
      expect(up?.version).toBe(2);
      expect(await store.assistants.getVersion(ast.id)).toBe(2);
      expect((await store.assistants.findByKey(ast.assistantApiKey))?.config.prompt).toBe('bye');
      // The id names the assistant but is never a credential.
      expect(await store.assistants.findByKey(ast.id)).toBeUndefined();
      expect((await store.assistants.findById(ast.id))?.assistantApiKey).toBe(ast.assistantApiKey);
      expect((await store.assistants.get(a.id, ast.id))?.assistantApiKey).toBe(ast.assistantApiKey);
      for (let i = 0; i < 3; i++) await store.assistants.create(a.id, {});
      const p1 = await store.assistants.list(a.id, { limit: 3 });
      expect(p1.rows).toHaveLength(3);
      const p2 = await store.assistants.list(a.id, { limit: 3, cursor: p1.nextCursor });
      expect(p2.rows).toHaveLength(1);
      expect(p2.nextCursor).toBeUndefined();
      expect(await store.assistants.delete(a.id, ast.id)).toBe(true);
      expect(await store.assistants.getVersion(ast.id)).toBeUndefined();
    });
  });

  describe('calls', () => {
    it('records events as they happen and derives transcript, turns, tools, dtmf, incidents', async () => {
      const t = await store.tenants.create({ email: 'a@x' });
      const c = await store.calls.create({ tenantId: t.id, assistantId: 'ag_1', direction: 'inbound', from: '+1555' });
      expect(c.id).toMatch(/^c_/);
      expect(c.status).toBe('ringing');
      await store.calls.update(c.id, { status: 'in-progress', startedAt: new Date().toISOString() });
      expect(await store.calls.countActive(t.id)).toBe(1);
      await store.calls.appendEvent(c.id, 'transcript', { role: 'user', text: 'hello' });
      await store.calls.appendEvent(c.id, 'turn', { index: 0, llmFirstTokenMs: 120 });
      await store.calls.appendEvent(c.id, 'tool', { name: 'end_call', args: {} });
      await store.calls.appendEvent(c.id, 'dtmf', { digit: '5' });
      await store.calls.appendEvent(c.id, 'incident', { kind: 'tts', action: 'fallback' });
      await store.calls.update(c.id, {
        status: 'completed',
        structuredOutput: { name: 'Ann' },
        summary: 'ok',
        durationMs: 5000,
      });
      const got = await store.calls.get(t.id, c.id);
      expect(got?.transcript).toEqual([expect.objectContaining({ role: 'user', text: 'hello' })]);
      expect(got?.turns[0]?.llmFirstTokenMs).toBe(120);
      expect(got?.toolCalls[0]?.name).toBe('end_call');
      expect(got?.dtmf[0]?.digit).toBe('5');
      expect(got?.incidents[0]?.action).toBe('fallback');
      expect(got?.structuredOutput).toEqual({ name: 'Ann' });
      expect(got?.durationMs).toBe(5000);
      expect(await store.calls.countActive(t.id)).toBe(0);
      expect(await store.calls.get('other', c.id)).toBeUndefined();
    });

    it('lists newest first with filters and cursor', async () => {
      const t = await store.tenants.create({ email: 'a@x' });
      for (let i = 0; i < 5; i++) {
        await store.calls.create({
          tenantId: t.id,
          assistantId: 'ag_1',
          direction: i % 2 ? 'outbound' : 'inbound',
          to: String(i),
        });
      }
      const p1 = await store.calls.list(t.id, { limit: 2 });
      expect(p1.rows.map((r) => r.to)).toEqual(['4', '3']);
      const p2 = await store.calls.list(t.id, { limit: 2, cursor: p1.nextCursor });
      expect(p2.rows.map((r) => r.to)).toEqual(['2', '1']);
      const out = await store.calls.list(t.id, { direction: 'outbound' });
      expect(out.rows.map((r) => r.to)).toEqual(['3', '1']);
      expect((await store.calls.list(t.id, { from: '2999-01-01T00:00:00.000Z' })).rows).toHaveLength(0);
      await expect(store.calls.list(t.id, { cursor: '!!' })).rejects.toThrow(/cursor/);
    });
  });

  describe('account', () => {
    it("routes numbers per tenant and refuses another tenant's number", async () => {
      const a = await store.tenants.create({ email: 'a@x' });
      const b = await store.tenants.create({ email: 'b@x' });
      expect(await store.numberRouting.set(a.id, '+1 (555) 010-2000', 'ag_a')).toMatchObject({
        number: '+15550102000',
      });
      expect(await store.numberRouting.set(b.id, '+15550102000', 'ag_b')).toBeUndefined();
      expect((await store.numberRouting.resolve('+1 555 010 2000'))?.assistantId).toBe('ag_a');
      expect(await store.numberRouting.delete(b.id, '+15550102000')).toBe(false);
    });

    it('purchases plugins against credit atomically and records recharges', async () => {
      const t = await store.tenants.create({ email: 'a@x' });
      expect(await store.account.purchasePlugin(t.id, 'twilio', 500)).toBe('insufficient');
      expect(await store.account.getPlugin(t.id, 'twilio')).toBeUndefined();
      expect(await store.account.addCredit(t.id, 700, 'card')).toBe(700);
      expect(await store.account.purchasePlugin(t.id, 'twilio', 500)).toBe('ok');
      expect(await store.account.getCredit(t.id)).toBe(200);
      const cfg = await store.account.configurePlugin(t.id, 'twilio', { accountSid: 'AC1' });
      expect(cfg?.config).toEqual({ accountSid: 'AC1' });
      const rech = await store.analytics.list(t.id, 'recharge', {});
      expect(rech.rows[0]?.data).toMatchObject({ amountCents: 700, balanceCents: 700 });
      await store.account.setAllowedIps(t.id, ['10.0.0.0/8']);
      expect(await store.account.getAllowedIps(t.id)).toEqual(['10.0.0.0/8']);
      await store.account.setCallLimits(t.id, { maxConcurrent: 2 });
      expect(await store.account.getCallLimits(t.id)).toEqual({ maxConcurrent: 2 });
    });
  });

  describe('messages (WhatsApp / SMS conversations)', () => {
    it('records per contact, once per provider message id, with history, statuses and the bound assistant', async () => {
      const a = await store.tenants.create({ email: 'a@x' });
      const b = await store.tenants.create({ email: 'b@x' });
      const base = { tenantId: a.id, channel: 'whatsapp' as const, contact: '+15551230001', status: 'received' };
      const first = await store.messages.add({
        ...base,
        direction: 'inbound',
        body: 'hi',
        providerMessageId: 'wamid.1',
      });
      expect(first).toMatchObject({ id: expect.stringMatching(/^msg_/), body: 'hi', direction: 'inbound' });
      // The provider retried the same webhook: nothing new, on this handle and on another engine's.
      expect(
        await store.messages.add({ ...base, direction: 'inbound', body: 'hi', providerMessageId: 'wamid.1' }),
      ).toBe(undefined);
      const other = await another();
      expect(
        await other.messages.add({ ...base, direction: 'inbound', body: 'hi', providerMessageId: 'wamid.1' }),
      ).toBe(undefined);
      // Another tenant may see the same provider id (ids are per account); messages without one never clash.
      expect(
        await store.messages.add({
          ...base,
          tenantId: b.id,
          direction: 'inbound',
          body: 'x',
          providerMessageId: 'wamid.1',
        }),
      ).toBeDefined();
      await store.messages.add({
        ...base,
        direction: 'outbound',
        body: 'hello!',
        status: 'accepted',
        assistantId: 'ag_1',
        providerMessageId: 'wamid.2',
      });
      await store.messages.add({ ...base, direction: 'inbound', body: 'no id' });
      await store.messages.add({ ...base, contact: '+15551230002', direction: 'inbound', body: 'elsewhere' });
      expect((await store.messages.history(a.id, 'whatsapp', '+15551230001')).map((m) => m.body)).toEqual([
        'hi',
        'hello!',
        'no id',
      ]);
      expect((await store.messages.history(a.id, 'whatsapp', '+15551230001', 2)).map((m) => m.body)).toEqual([
        'hello!',
        'no id',
      ]);
      expect(await store.messages.history(a.id, 'sms', '+15551230001')).toEqual([]);
      expect((await store.messages.setStatus(a.id, 'whatsapp', 'wamid.2', 'delivered'))?.status).toBe('delivered');
      expect(await store.messages.setStatus(b.id, 'whatsapp', 'wamid.2', 'read')).toBeUndefined();
      expect(await store.messages.contactAssistant(a.id, 'whatsapp', '+15551230001')).toBeUndefined();
      await store.messages.bindContact(a.id, 'whatsapp', '+15551230001', 'ag_1');
      await other.messages.bindContact(a.id, 'whatsapp', '+15551230001', 'ag_2');
      expect(await store.messages.contactAssistant(a.id, 'whatsapp', '+15551230001')).toBe('ag_2');
      expect(await store.messages.contactAssistant(b.id, 'whatsapp', '+15551230001')).toBeUndefined();
    });
  });

  describe('webhooks outbox and outbound queue', () => {
    it('enqueues per subscribed endpoint, leases, records attempts', async () => {
      const t = await store.tenants.create({ email: 'a@x' });
      const ep = await store.webhooks.createEndpoint(t.id, { url: 'http://127.0.0.1:1/h', events: ['call.ended'] });
      await store.webhooks.createEndpoint(t.id, { url: 'http://127.0.0.1:1/x', events: ['call.started'] });
      expect(await store.webhooks.countPending()).toBe(0);
      expect(await store.webhooks.enqueue(t.id, 'call.ended', { callId: 'c_1' })).toBe(1);
      expect(await store.webhooks.countPending()).toBe(1);
      const now = Date.now();
      const [d] = await store.webhooks.claimDue(now, 10, 30_000);
      expect(d?.endpoint.id).toBe(ep.id);
      expect(d?.payload).toMatchObject({ type: 'call.ended', data: { callId: 'c_1' } });
      // Leased: a second claimer (another process) gets nothing.
      expect(await store.webhooks.claimDue(now, 10, 30_000)).toHaveLength(0);
      await store.webhooks.recordAttempt(d!.id, { ok: false, statusCode: 500, durationMs: 3 }, { nextAttemptAt: now });
      await store.webhooks.recordAttempt(d!.id, { ok: true, statusCode: 200, durationMs: 2 }, { delivered: true });
      expect((await store.webhooks.getDelivery(d!.id))?.status).toBe('delivered');
      expect(await store.webhooks.countPending()).toBe(0);
      const at = await store.webhooks.listAttempts(t.id, ep.id);
      expect(at.rows.map((r) => [r.attempt, r.ok])).toEqual([
        [2, true],
        [1, false],
      ]);
    });

    it('claims outbound jobs once and re-takes expired leases', async () => {
      const t = await store.tenants.create({ email: 'a@x' });
      const j = await store.outbound.enqueue({ tenantId: t.id, callId: 'c_1', assistantId: 'ag_1', to: '+1555' });
      expect(await store.outbound.countQueued()).toBe(1);
      const now = Date.now();
      expect((await store.outbound.claimNext(now, 1000))?.id).toBe(j.id);
      expect(await store.outbound.claimNext(now, 1000)).toBeUndefined();
      expect((await store.outbound.claimNext(now + 2000, 1000))?.attempts).toBe(2);
      // A claim that never dialled (no line free) is put back without counting as an attempt.
      await store.outbound.requeue(j.id, now + 5000, 'limit');
      expect(await store.outbound.claimNext(now + 4000, 1000)).toBeUndefined();
      const again = await store.outbound.claimNext(now + 5000, 1000);
      expect(again?.attempts).toBe(2);
      expect(again?.error).toBe('limit');
      await store.outbound.finish(j.id, 'done');
      expect(await store.outbound.countQueued()).toBe(0);
      expect(await store.outbound.claimNext(now + 10_000, 1000)).toBeUndefined();
    });

    it('claims idempotency keys once per tenant, binds them, releases them, and expires them', async () => {
      expect(await store.outbound.claimIdempotencyKey('t1', 'k', 60_000)).toEqual({ ok: true });
      expect(await store.outbound.claimIdempotencyKey('t1', 'k', 60_000)).toEqual({ ok: false });
      expect(await store.outbound.claimIdempotencyKey('t2', 'k', 60_000)).toEqual({ ok: true });
      await store.outbound.bindIdempotencyKey('t1', 'k', 'c_1');
      expect(await store.outbound.claimIdempotencyKey('t1', 'k', 60_000)).toEqual({ ok: false, callId: 'c_1' });
      await store.outbound.releaseIdempotencyKey('t2', 'k');
      expect(await store.outbound.claimIdempotencyKey('t2', 'k', 60_000)).toEqual({ ok: true });
      // A ttl of -1 ms: the old claim has expired.
      expect(await store.outbound.claimIdempotencyKey('t1', 'k', -1)).toEqual({ ok: true });
    });

    it('keeps data across handles and answers ping', async () => {
      const t = await store.tenants.create({ email: 'keep@x' });
      const b = await another();
      expect((await b.tenants.get(t.id))?.email).toBe('keep@x');
      expect(await b.ping()).toBe(true);
    });
  });

  describe('campaigns and the do-not-call list', () => {
    const settings = { timezone: 'America/New_York', maxAttempts: 3, retryBackoffSec: 60, maxConcurrent: 2 };
    it('creates a campaign with its rows in order, counts, pages, claims once, updates, cancels', async () => {
      const t = await store.tenants.create({ email: 'c@example.com' });
      const rows = Array.from({ length: 450 }, (_, i) => ({
        phone: `+1555000${String(i).padStart(4, '0')}`,
        metadata: { name: `n${i}` },
        ...(i === 1 ? { timezone: 'Europe/Paris' } : {}),
      }));
      const c = await store.campaigns.create(t.id, { assistantId: 'ag_1', name: 'spring', settings }, rows);
      expect(c).toMatchObject({ status: 'running', name: 'spring', settings });
      expect(await store.campaigns.get(t.id, c.id)).toEqual(c);
      expect(await store.campaigns.get('other', c.id)).toBeUndefined();
      expect((await store.campaigns.list(t.id)).map((x) => x.id)).toEqual([c.id]);
      expect((await store.campaigns.running()).map((x) => x.id)).toContain(c.id);
      expect((await store.campaigns.counts(c.id)).pending).toBe(450);
      const page = await store.campaigns.rows(t.id, c.id, { limit: 2 });
      expect(page.map((r) => [r.seq, r.phone, r.metadata.name])).toEqual([
        [1, '+15550000000', 'n0'],
        [2, '+15550000001', 'n1'],
      ]);
      expect(page[1]!.timezone).toBe('Europe/Paris');
      expect((await store.campaigns.rows(t.id, c.id, { after: 449 })).map((r) => r.seq)).toEqual([450]);
      const [first] = await store.campaigns.due(c.id, 0, 1);
      expect(first!.seq).toBe(1);
      // Two engines race for a row: one wins.
      const b = store.shared ? await another() : store;
      const wins = await Promise.all([store.campaigns.claim(first!.id, 1000), b.campaigns.claim(first!.id, 1000)]);
      expect(wins.filter(Boolean)).toHaveLength(1);
      const [dialing] = await store.campaigns.dialing(c.id);
      expect(dialing).toMatchObject({ id: first!.id, attempts: 1, nextAttemptAt: 1000, status: 'dialing' });
      await store.campaigns.updateRow(first!.id, {
        status: 'pending',
        nextAttemptAt: 5000,
        result: 'busy',
        callId: 'c_1',
      });
      expect(await store.campaigns.due(c.id, 4999, 1000)).toHaveLength(449);
      expect((await store.campaigns.due(c.id, 5000, 1000)).at(-1)).toMatchObject({ result: 'busy', callId: 'c_1' });
      expect(await store.campaigns.cancelPending(c.id)).toBe(450);
      await store.campaigns.setStatus(c.id, 'cancelled');
      expect((await store.campaigns.get(t.id, c.id))?.status).toBe('cancelled');
      expect((await store.campaigns.counts(c.id)).cancelled).toBe(450);
      expect((await store.campaigns.running()).map((x) => x.id)).not.toContain(c.id);
    });

    it('keeps a do-not-call list per tenant', async () => {
      expect(await store.campaigns.addDnc('t1', ['+15551', '+15552', '+15551'], 'list')).toBe(2);
      expect(await store.campaigns.addDnc('t1', ['+15552'], 'opt_out')).toBe(0);
      expect(await store.campaigns.isDnc('t1', '+15552')).toBe(true);
      expect(await store.campaigns.isDnc('t2', '+15552')).toBe(false);
      expect((await store.campaigns.listDnc('t1')).map((e) => [e.number, e.reason])).toEqual([
        ['+15551', 'list'],
        ['+15552', 'list'],
      ]);
      expect((await store.campaigns.listDnc('t1', { after: '+15551' })).map((e) => e.number)).toEqual(['+15552']);
      expect(await store.campaigns.removeDnc('t1', '+15551')).toBe(true);
      expect(await store.campaigns.removeDnc('t1', '+15551')).toBe(false);
    });
  });

  describe('shared state across engines (two handles on one store)', () => {
    it('admits calls atomically: a concurrent limit of 1 holds when both handles admit at once', async () => {
      const b = await another();
      const t = await store.tenants.create({ email: 'lim@x' });
      const refuse = (c: { active: number }) => (c.active >= 1 ? 'limit' : undefined);
      const create = {
        tenantId: t.id,
        assistantId: 'ag_1',
        direction: 'inbound' as const,
        status: 'in-progress' as const,
      };
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? b : store).calls.admit(t.id, { create }, refuse)),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.find((r) => !r.ok)).toEqual({ ok: false, reason: 'limit' });
      expect(await store.calls.countActive(t.id)).toBe(1);
      // Per-period counts, and activating a queued call under the same lock.
      const q = await store.calls.create({ tenantId: t.id, assistantId: 'ag_1', direction: 'outbound' });
      let seen: unknown;
      const r = await b.calls.admit(t.id, { activate: { id: q.id, status: 'ringing', ownerId: 'eng_b' } }, (c) => {
        seen = c;
        return undefined;
      });
      expect(seen).toEqual({ active: 1, lastHour: 2, lastDay: 2 });
      expect(r.ok && r.record.status).toBe('ringing');
      expect(r.ok && r.record.ownerId).toBe('eng_b');
    });

    it('shares the outbound queue: two handles claiming at once take 20 jobs, none twice', async () => {
      const b = await another();
      const t = await store.tenants.create({ email: 'q@x' });
      for (let i = 0; i < 20; i++) {
        await store.outbound.enqueue({ tenantId: t.id, callId: `c_${i}`, assistantId: 'ag_1', to: `+1555000${i}` });
      }
      const now = Date.now();
      const taken: string[] = [];
      const worker = async (s: typeof store) => {
        for (let job = await s.outbound.claimNext(now, 60_000); job; job = await s.outbound.claimNext(now, 60_000)) {
          taken.push(job.to);
        }
      };
      await Promise.all([worker(store), worker(b), worker(store), worker(b)]);
      expect(taken).toHaveLength(20);
      expect(new Set(taken).size).toBe(20);
    });

    it("closes a dead engine's live calls exactly once, from any handle", async () => {
      const b = await another();
      const t = await store.tenants.create({ email: 'own@x' });
      const now = Date.now();
      await store.engines.register('eng_a', { host: 'h', pid: 1 }, now - 60_000);
      await b.engines.register('eng_b', { host: 'h', pid: 2 }, now);
      const mk = (ownerId: string) =>
        store.calls.create({
          tenantId: t.id,
          assistantId: 'ag_1',
          direction: 'inbound',
          status: 'in-progress',
          ownerId,
        });
      const a1 = await mk('eng_a');
      const a2 = await mk('eng_a');
      const b1 = await mk('eng_b');
      const [x, y] = await Promise.all([
        store.engines.reapDead(now, 15_000, 'engine_lost'),
        b.engines.reapDead(now, 15_000, 'engine_lost'),
      ]);
      expect([...x, ...y].map((c) => c.id).sort()).toEqual([a1.id, a2.id].sort());
      expect((await store.calls.get(t.id, a1.id))?.status).toBe('failed');
      expect((await store.calls.get(t.id, a1.id))?.endReason).toBe('engine_lost');
      expect((await store.calls.get(t.id, b1.id))?.status).toBe('in-progress');
      await b.engines.heartbeat('eng_b', now + 10_000);
      expect(await store.engines.reapDead(now + 20_000, 15_000, 'engine_lost')).toEqual([]);
    });

    it('counts rate-limit hits across handles, per fixed window', async () => {
      const b = await another();
      const now = 1_700_000_000_000;
      const w = 60_000;
      const start = now - (now % w);
      expect(await store.rateCounters.hit('ip:1', w, start + 1)).toEqual({ current: 1, previous: 0 });
      expect(await b.rateCounters.hit('ip:1', w, start + 2)).toEqual({ current: 2, previous: 0 });
      expect(await b.rateCounters.hit('ip:2', w, start + 3)).toEqual({ current: 1, previous: 0 });
      expect(await store.rateCounters.hit('ip:1', w, start + w + 5)).toEqual({ current: 1, previous: 2 });
    });

    it('delivers control messages to the engine they are addressed to', async () => {
      const got: string[] = [];
      const unsubscribe = await store.control.subscribe('eng_a', (m) => got.push(`${m.op}:${m.callId}`));
      const publisher = store.shared ? await another() : store;
      await publisher.control.publish({ to: 'eng_b', callId: 'c_x', op: 'hangup' });
      await publisher.control.publish({ to: 'eng_a', callId: 'c_1', op: 'hangup', reason: 'api' });
      for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(got).toEqual(['hangup:c_1']);
      await unsubscribe();
    });
  });
}
