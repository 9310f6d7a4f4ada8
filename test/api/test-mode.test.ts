import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTwilioFake } from '../channels/twilio-fake.js';
import { type EngineHarness, PORTAL_KEY, startEngine, until } from '../engine-harness.js';
import { startReceiver } from '../webhooks/receiver.js';

/**
 * Test mode like Stripe's: a key belongs to an environment; a test key sees only test data and never reaches a
 * carrier. An outbound call made with a test key runs its whole lifecycle (queued -> ringing -> in-progress ->
 * completed) against the simulated carrier, with its webhooks, on an engine with no PUBLIC_URL and no trunk.
 */
let h: EngineHarness;
let testKey = '';
let twilio: Awaited<ReturnType<typeof startTwilioFake>>;
let liveHooks: Awaited<ReturnType<typeof startReceiver>>;
let testHooks: Awaited<ReturnType<typeof startReceiver>>;

type Event = { type: string; data: Record<string, unknown> };
const events = (r: Awaited<ReturnType<typeof startReceiver>>) => r.received.map((x) => JSON.parse(x.body) as Event);

beforeAll(async () => {
  twilio = await startTwilioFake({ sid: 'AClivelivelivelivelivelivelivelive', token: 'live_token' });
  liveHooks = await startReceiver();
  testHooks = await startReceiver();
  h = await startEngine();
  // The live account has a real trunk and messaging: test mode must never use them.
  const live = h.engine.firstTenantId!;
  await h.engine.store.account.purchasePlugin(live, 'twilio', 0);
  await h.engine.store.account.configurePlugin(live, 'twilio', {
    accountSid: 'AClivelivelivelivelivelivelivelive',
    authToken: 'live_token',
    fromNumber: '+15550009999',
    baseUrl: twilio.url,
  });
  const k = await h.api('POST', '/api/v1/account/api-keys', { environment: 'test' });
  expect(k.status).toBe(201);
  expect(k.json.data.key).toMatchObject({ environment: 'test', label: 'test' });
  testKey = k.json.data.portalApiKey;
  const all = ['call.started', 'call.ended', 'call.failed', 'whatsapp.message'];
  expect((await h.api('POST', '/api/v1/webhooks', { url: liveHooks.url, events: all })).status).toBe(201);
  expect((await h.api('POST', '/api/v1/webhooks', { url: testHooks.url, events: all }, testKey)).status).toBe(201);
});
afterAll(async () => {
  await h?.close();
  await twilio?.close();
  await liveHooks?.close();
  await testHooks?.close();
});

describe('keys and isolation', () => {
  it('a test key logs in as the same account in the test environment and cannot manage keys or route numbers', async () => {
    const login = await fetch(`${h.base}/api/v1/auth/portal/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ops@example.com', portalApiKey: testKey }),
    });
    expect(((await login.json()) as { data: unknown }).data).toMatchObject({
      email: 'ops@example.com',
      environment: 'test',
    });
    const keys = await h.api('GET', '/api/v1/account/api-keys');
    expect(keys.json.data.map((k: { environment: string }) => k.environment).sort()).toEqual(['production', 'test']);
    expect((await h.api('GET', '/api/v1/account/api-keys', undefined, testKey)).status).toBe(403);
    expect((await h.api('POST', '/api/v1/account/api-keys', {}, testKey)).status).toBe(403);
    const a = await h.api('POST', '/api/v1/assistants', { name: 'T' }, testKey);
    const route = await h.api(
      'PUT',
      '/api/v1/account/number-routing',
      { number: '+15550001234', assistantApiKey: a.json.data.assistantApiKey },
      testKey,
    );
    expect(route.status).toBe(403);
  });

  it('test data and live data never see each other', async () => {
    const live = await h.api('POST', '/api/v1/assistants', { name: 'Live agent' });
    const test = await h.api('POST', '/api/v1/assistants', { name: 'Test agent' }, testKey);
    const names = async (key: string) =>
      (
        (await h.api('GET', '/api/v1/assistants', undefined, key)).json.data.rows as Array<{ config: { name: string } }>
      ).map((a) => a.config.name);
    expect(await names(PORTAL_KEY)).toContain('Live agent');
    expect(await names(PORTAL_KEY)).not.toContain('Test agent');
    expect(await names(testKey)).toContain('Test agent');
    expect(await names(testKey)).not.toContain('Live agent');
    expect(
      (await h.api('GET', `/api/v1/assistants/${live.json.data.assistantApiKey}`, undefined, testKey)).status,
    ).toBe(404);
    expect((await h.api('GET', `/api/v1/assistants/${test.json.data.assistantApiKey}`)).status).toBe(404);
  });
});

describe('the simulated carrier', () => {
  it('runs a test-mode outbound call through its whole lifecycle with webhooks, and no carrier', async () => {
    const a = await h.api(
      'POST',
      '/api/v1/assistants',
      { name: 'Caller', firstMessage: 'Hello, this is a test call from Acme.' },
      testKey,
    );
    // No PUBLIC_URL, and the test environment has no trunk plugin: a live key would be refused here.
    const r = await h.api(
      'POST',
      '/api/v1/calls/initiate',
      { agent_id: a.json.data.id, to_number: '+2348012345678', metadata: { lead_id: '123' } },
      testKey,
    );
    expect(r.status).toBe(200);
    expect(r.json.data.status).toBe('queued');
    const callId = r.json.data.call_id as string;
    const seen = new Set<string>();
    const done = await until('the call to complete', async () => {
      const c = (await h.api('GET', `/api/v1/calls/${callId}`, undefined, testKey)).json.data;
      seen.add(c.status);
      return c.status === 'completed' || c.status === 'failed' ? c : undefined;
    });
    expect(done).toMatchObject({ status: 'completed', direction: 'outbound', to: '+2348012345678', test: true });
    expect(done.providerCallId).toBe(`sim_${callId}`);
    expect(done.transcript.map((t: { text: string }) => t.text).join(' ')).toContain('test call from Acme');
    expect(done.metadata).toMatchObject({ lead_id: '123' });
    // ringing was recorded on the call as it went; the API saw the call in progress or later.
    expect(done.incidents).toEqual([]);
    expect([...seen].some((s) => ['in-progress', 'completed'].includes(s))).toBe(true);
    await until('call.ended', async () =>
      events(testHooks).some((e) => e.type === 'call.ended' && e.data.call_id === callId) ? true : undefined,
    );
    const mine = events(testHooks).filter((e) => e.data.call_id === callId);
    expect(mine.map((e) => e.type)).toEqual(['call.started', 'call.ended']);
    for (const e of mine) expect(e.data.test).toBe(true);
    expect(mine[0]!.data.protocol).toBe('native');
    expect(mine[1]!.data.provider_call_id).toBe(`sim_${callId}`);
    // Not a byte to the carrier, not an event to the live endpoint; and the live key does not see the call.
    expect(twilio.requests).toHaveLength(0);
    expect(events(liveHooks).filter((e) => e.data.call_id === callId)).toEqual([]);
    expect((await h.api('GET', `/api/v1/calls/${callId}`)).status).toBe(404);
    const live = await h.api('POST', '/api/v1/assistants', { name: 'Live caller' });
    const refused = await h.api('POST', '/api/v1/calls/initiate', {
      agent_id: live.json.data.id,
      to_number: '+2348012345678',
    });
    expect(refused.json.error.code).toBe('PUBLIC_URL_NOT_SET');
  });

  it('magic numbers give busy / no-answer / failed with call.failed', async () => {
    const a = await h.api('POST', '/api/v1/assistants', { name: 'Busy caller' }, testKey);
    const r = await h.api(
      'POST',
      '/api/v1/calls/initiate',
      { agent_id: a.json.data.id, to_number: '+15005550010' },
      testKey,
    );
    const callId = r.json.data.call_id as string;
    const c = await until('the call to fail', async () => {
      const x = (await h.api('GET', `/api/v1/calls/${callId}`, undefined, testKey)).json.data;
      return x.status === 'failed' ? x : undefined;
    });
    expect(c.endReason).toBe('simulated: busy');
    const failed = await until('call.failed', async () =>
      events(testHooks).find((e) => e.type === 'call.failed' && e.data.call_id === callId),
    );
    expect(failed.data).toMatchObject({ reason: 'simulated: busy', test: true });
  });

  it('SMS and WhatsApp in test mode are simulated and delivered, with their records marked test', async () => {
    const sms = await h.api('POST', '/api/v1/sms/send', { to_number: '+2348012345678', message: 'Test SMS' }, testKey);
    expect(sms.status).toBe(200);
    expect(sms.json.data).toMatchObject({ provider: 'simulated', status: 'queued' });
    const a = await h.api('POST', '/api/v1/assistants', { name: 'WA' }, testKey);
    const wa = await h.api(
      'POST',
      '/api/v1/whatsapp/send',
      { agent_id: a.json.data.id, to_number: '+2348012345678', message_type: 'text', content: 'Test WhatsApp' },
      testKey,
    );
    expect(wa.status).toBe(200);
    const id = wa.json.data.message_id as string;
    expect(id).toMatch(/^sim_wamid_/);
    const statuses = await until('delivered', async () => {
      const s = events(testHooks)
        .filter((e) => e.type === 'whatsapp.message' && e.data.message_id === id)
        .map((e) => e.data.status);
      return s.includes('delivered') ? s : undefined;
    });
    expect(statuses).toEqual(['queued', 'sent', 'delivered']);
    const conv = await h.api('GET', '/api/v1/whatsapp/conversations/%2B2348012345678', undefined, testKey);
    expect(conv.json.data.messages.at(-1)).toMatchObject({ body: 'Test WhatsApp', status: 'delivered' });
    const rows = (await h.api('GET', '/api/v1/account/analytics/sms', undefined, testKey)).json.data.rows as Array<
      Record<string, unknown>
    >;
    expect(rows.map((x) => [x.channel, x.provider, x.test])).toEqual([
      ['whatsapp', 'simulated', true],
      ['sms', 'simulated', true],
    ]);
    expect((await h.api('GET', '/api/v1/account/analytics/sms')).json.data.rows).toEqual([]);
    expect(twilio.requests).toHaveLength(0);
  });
});
