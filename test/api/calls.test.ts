import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChannelDialer } from '../../src/channels/dialer.js';
import { twilioPostSignature } from '../../src/channels/twilio-status.js';
import { silentLogger } from '../../src/log.js';
import { createWebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import { startTwilioFake } from '../channels/twilio-fake.js';
import { type Harness, startHarness } from './harness.js';

const creds = { sid: 'ACfeedfeedfeedfeedfeedfeedfeedfeed', token: 'tw_token' };
let h: Harness;
let twilio: Awaited<ReturnType<typeof startTwilioFake>>;
let ast: { id: string; assistantApiKey: string };
const webhookEvents: Array<[string, string, Record<string, unknown>]> = [];

beforeAll(async () => {
  twilio = await startTwilioFake(creds);
  h = await startHarness(
    (store) => ({
      dialer: createChannelDialer({ store, publicUrl: 'https://engine.example.com' }),
      webhooks: { enqueue: async (t, type, p) => void webhookEvents.push([t, type, p]) },
    }),
    { PUBLIC_URL: 'https://engine.example.com' },
  );
  ast = (await h.call('POST', '/api/v1/assistants', { headers: h.a.h, body: { name: 'Caller' } })).body.data;
});
afterAll(async () => {
  await h.close();
  await twilio.close();
});

async function settled(id: string, tenant = h.a) {
  // The worker dials in the background; poll the API until the call has a carrier id or was refused. (It is
  // 'ringing' from just before the dial: the line is reserved atomically against the concurrent limit.)
  for (;;) {
    const r = await h.call('GET', `/api/v1/calls/${id}`, { headers: tenant.h });
    if (r.body.data.providerCallId || !['queued', 'ringing'].includes(r.body.data.status)) return r.body.data;
    await new Promise((res) => setTimeout(res, 10));
  }
}

async function setupTwilioPlugin(tenant = h.a) {
  expect(
    (await h.call('POST', '/api/v1/account/plugins/purchase', { headers: tenant.h, body: { pluginId: 'twilio' } }))
      .status,
  ).toBe(200);
  const cfg = await h.call('PUT', '/api/v1/account/plugins/configuration/twilio', {
    headers: tenant.h,
    body: { accountSid: creds.sid, authToken: creds.token, fromNumber: '+15550001111', baseUrl: twilio.url },
  });
  expect(cfg.status).toBe(200);
  expect(cfg.body.data.config.authToken).toBe('********');
}

describe('outbound calls', () => {
  it('refuses at once (422 CHANNEL_NOT_CONFIGURED, nothing queued) when the twilio plugin is not configured', async () => {
    const r = await h.call('POST', '/api/v1/calls/initiate', {
      headers: h.a.h,
      body: { agent_id: ast.id, to_number: '+15551234567' },
    });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('CHANNEL_NOT_CONFIGURED');
    expect(r.body.error.message).toMatch(/twilio plugin/);
    expect((await h.call('GET', '/api/v1/calls', { headers: h.a.h })).body.data.rows).toEqual([]);
  });

  it('CallAI calls/initiate answers {status:success,data:{call_id,status:queued}} and dials Twilio with TwiML', async () => {
    await setupTwilioPlugin();
    twilio.requests.length = 0;
    const r = await h.call('POST', '/api/v1/calls/initiate', {
      headers: { authorization: `Bearer ${h.a.key}` },
      body: { agent_id: ast.id, to_number: '+15551234567', metadata: { name: 'Ann' } },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'success', data: { call_id: expect.stringMatching(/^c_/), status: 'queued' } });
    const call = await settled(r.body.data.call_id);
    expect(call.providerCallId).toMatch(/^CA/);
    expect(call.metadata).toEqual({ name: 'Ann' });
    expect(call.direction).toBe('outbound');
    const req = twilio.requests[0]!;
    expect(req.form.To).toBe('+15551234567');
    expect(req.form.Twiml).toContain(`wss://engine.example.com/media/twilio/${ast.assistantApiKey}`);
    expect(req.form.Twiml).toContain(`<Parameter name="callId" value="${call.id}"/>`);
  });

  it('takes the signed Twilio status callback: never answered -> no-answer + call.failed; bad signature -> 403', async () => {
    twilio.requests.length = 0;
    const r = await h.call('POST', '/api/v1/calls/initiate', {
      headers: h.a.h,
      body: { agent_id: ast.id, to_number: '+15550000001' },
    });
    const call = await settled(r.body.data.call_id);
    const form = twilio.requests[0]!.form;
    const callbackUrl = `https://engine.example.com/webhook/twilio/status/${call.id}`;
    expect(form.StatusCallback).toBe(callbackUrl);
    const params = { AccountSid: creds.sid, CallSid: call.providerCallId, CallStatus: 'no-answer', CallDuration: '0' };
    const post = (sig: string) =>
      fetch(`${h.url}/webhook/twilio/status/${call.id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig },
        body: new URLSearchParams(params).toString(),
      });
    const forged = await post(twilioPostSignature('not-the-token', callbackUrl, params));
    expect(forged.status).toBe(403);
    expect((await h.call('GET', `/api/v1/calls/${call.id}`, { headers: h.a.h })).body.data.status).toBe('queued');
    const ok = await post(twilioPostSignature(creds.token, callbackUrl, params));
    expect(ok.status).toBe(200);
    const after = (await h.call('GET', `/api/v1/calls/${call.id}`, { headers: h.a.h })).body.data;
    expect(after).toMatchObject({ status: 'no-answer', endReason: 'carrier: no-answer', durationMs: 0 });
    expect(
      webhookEvents.some(([, type, p]) => type === 'call.failed' && p.call_id === call.id && p.reason === 'no-answer'),
    ).toBe(true);
    const unknown = await fetch(`${h.url}/webhook/twilio/status/c_nope`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });
    expect(unknown.status).toBe(403);
  });

  it('answers a retried request with the same Idempotency-Key with the same call, dialing once', async () => {
    twilio.requests.length = 0;
    const before = (await h.store.calls.list(h.a.id, { limit: 500 })).rows.length;
    const send = (key: string) =>
      h.call('POST', '/api/v1/calls/initiate', {
        headers: { ...h.a.h, 'idempotency-key': key },
        body: { agent_id: ast.id, to_number: '+15550000002' },
      });
    const first = await send('order-42');
    const again = await send('order-42');
    expect(again.status).toBe(200);
    expect(again.body.data.call_id).toBe(first.body.data.call_id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    await settled(first.body.data.call_id);
    expect((await h.store.calls.list(h.a.id, { limit: 500 })).rows.length).toBe(before + 1);
    expect(twilio.requests.filter((r) => r.path.endsWith('/Calls.json'))).toHaveLength(1);
    // The same key is another tenant's own key.
    const other = (await h.call('POST', '/api/v1/assistants', { headers: h.b.h, body: {} })).body.data;
    await setupTwilioPlugin(h.b);
    const b = await h.call('POST', '/api/v1/calls/initiate', {
      headers: { ...h.b.h, 'idempotency-key': 'order-42' },
      body: { agent_id: other.id, to_number: '+15550000002' },
    });
    expect(b.body.data.call_id).not.toBe(first.body.data.call_id);
    // A refused request does not keep the key: the retry after the refusal goes through.
    await h.call('PUT', '/api/v1/account/call-limits', { headers: h.a.h, body: { maxPerDay: 0 } });
    expect((await send('order-43')).status).toBe(429);
    await h.call('PUT', '/api/v1/account/call-limits', { headers: h.a.h, body: {} });
    const retried = await send('order-43');
    expect(retried.status).toBe(200);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
  });

  it('AI4CALL /webhook/outbound_call and /webhook/outbound_call_pbx', async () => {
    const r = await h.call('POST', '/webhook/outbound_call', {
      headers: h.a.h,
      body: { assistantApiKey: ast.assistantApiKey, phoneNumber: '+15557654321', variables: { order: '42' } },
    });
    expect(r.status).toBe(200);
    const call = await settled(r.body.data.call_id);
    expect(call.providerCallId).toMatch(/^CA/);
    expect(call.metadata).toEqual({ order: '42' });
    const alias = await h.call('POST', '/webhook/outbound_call', {
      headers: h.a.h,
      body: { assistantApiKey: ast.assistantApiKey, phone_number: '+15557654322' },
    });
    expect((await settled(alias.body.data.call_id)).to).toBe('+15557654322');
    const none = await h.call('POST', '/webhook/outbound_call', {
      headers: h.a.h,
      body: { assistantApiKey: ast.assistantApiKey },
    });
    expect(none.status).toBe(400);
    expect(none.body.error.details[0].field).toBe('to');
    const p = await h.call('POST', '/webhook/outbound_call_pbx', {
      headers: h.a.h,
      body: { assistantApiKey: ast.assistantApiKey, destination: '1001', pbx: 'asterisk' },
    });
    // The asterisk plugin is not configured: refused when the request arrives, not queued then failed.
    expect(p.status).toBe(422);
    expect(p.body.error.code).toBe('CHANNEL_NOT_CONFIGURED');
    const bad = await h.call('POST', '/webhook/outbound_call_pbx', {
      headers: h.a.h,
      body: { assistantApiKey: ast.assistantApiKey, destination: '1', pbx: 'x' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { field: string }) => d.field)).toContain('pbx');
  });

  it('refuses over the call limit with 429 CALL_LIMIT_REACHED and leaves no call behind', async () => {
    const before = (await h.call('GET', '/api/v1/calls?limit=500', { headers: h.a.h })).body.data.rows.length;
    expect(
      (await h.call('PUT', '/api/v1/account/call-limits', { headers: h.a.h, body: { maxPerHour: 0 } })).status,
    ).toBe(200);
    const r = await h.call('POST', '/api/v1/calls/initiate', {
      headers: h.a.h,
      body: { agent_id: ast.id, to_number: '+15551234567' },
    });
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('CALL_LIMIT_REACHED');
    expect(r.body.error.message).toMatch(/per hour/);
    const after = (await h.call('GET', '/api/v1/calls?limit=500', { headers: h.a.h })).body.data.rows.length;
    expect(after).toBe(before);
    const limits = await h.call('GET', '/api/v1/account/call-limits', { headers: h.a.h });
    expect(limits.body.data).toMatchObject({ limits: { maxPerHour: 0 }, active: expect.any(Number), lastHour: before });
    await h.call('PUT', '/api/v1/account/call-limits', { headers: h.a.h, body: {} });
  });

  it("applies the assistant's number validation, and rejects unknown assistants", async () => {
    const b = (
      await h.call('POST', '/api/v1/assistants', {
        headers: h.a.h,
        body: { precall: { numberValidation: { enabled: true, allowedPrefixes: ['+44'] } } },
      })
    ).body.data;
    const r = await h.call('POST', '/api/v1/calls/initiate', {
      headers: h.a.h,
      body: { agent_id: b.id, to_number: '+15551234567' },
    });
    expect(r.status).toBe(422);
    const u = await h.call('POST', '/api/v1/calls/initiate', {
      headers: h.a.h,
      body: { agent_id: 'ag_nope', to_number: '+15551234567' },
    });
    expect(u.status).toBe(404);
    expect(u.body.error.code).toBe('ASSISTANT_NOT_FOUND');
  });

  it('answers 503 when no outbound channel is configured in the engine', async () => {
    const h2 = await startHarness();
    try {
      const a = (await h2.call('POST', '/api/v1/assistants', { headers: h2.a.h, body: {} })).body.data;
      const r = await h2.call('POST', '/api/v1/calls/initiate', {
        headers: h2.a.h,
        body: { agent_id: a.id, to_number: '+15551234567' },
      });
      expect(r.status).toBe(503);
    } finally {
      await h2.close();
    }
  });
});

describe('call records', () => {
  it('lists with filters and serves details with transcript, turns, tools, dtmf, structured output', async () => {
    const c = await h.store.calls.create({
      tenantId: h.a.id,
      assistantId: ast.id,
      direction: 'inbound',
      from: '+1999',
      protocol: 'twilio',
    });
    await h.store.calls.appendEvent(c.id, 'transcript', { role: 'assistant', text: 'Hello' });
    await h.store.calls.appendEvent(c.id, 'turn', { index: 0, latencyMs: 640 });
    await h.store.calls.appendEvent(c.id, 'tool', { name: 'end_call' });
    await h.store.calls.appendEvent(c.id, 'dtmf', { digit: '1' });
    await h.store.calls.update(c.id, {
      status: 'completed',
      structuredOutput: { intent: 'sales' },
      summary: 'Short call',
    });
    const g = await h.call('GET', `/api/v1/calls/${c.id}`, { headers: h.a.h });
    expect(g.body.data).toMatchObject({
      id: c.id,
      status: 'completed',
      transcript: [{ role: 'assistant', text: 'Hello' }],
      turns: [{ latencyMs: 640 }],
      toolCalls: [{ name: 'end_call' }],
      dtmf: [{ digit: '1' }],
      structuredOutput: { intent: 'sales' },
      summary: 'Short call',
    });
    expect(g.body.data).not.toHaveProperty('tenantId');
    const inbound = await h.call('GET', '/api/v1/calls?direction=inbound', { headers: h.a.h });
    expect(inbound.body.data.rows.map((r: { id: string }) => r.id)).toEqual([c.id]);
    const done = await h.call('GET', `/api/v1/calls?status=completed&assistantId=${ast.id}`, { headers: h.a.h });
    expect(done.body.data.rows).toHaveLength(1);
    const future = await h.call('GET', '/api/v1/calls?from=2999-01-01T00:00:00Z', { headers: h.a.h });
    expect(future.body.data.rows).toHaveLength(0);
    const badDate = await h.call('GET', '/api/v1/calls?from=yesterday', { headers: h.a.h });
    expect(badDate.status).toBe(400);
    expect((await h.call('GET', '/api/v1/calls/c_missing', { headers: h.a.h })).body.error.code).toBe('CALL_NOT_FOUND');
  });

  it('downloads the recording behind auth', async () => {
    const c = await h.store.calls.create({ tenantId: h.a.id, assistantId: ast.id, direction: 'inbound' });
    expect((await h.call('GET', `/api/v1/calls/${c.id}/recording`, { headers: h.a.h })).status).toBe(404);
    mkdirSync(path.join(h.dir, 'recordings', h.a.id), { recursive: true });
    const wav = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(40, 1)]);
    writeFileSync(path.join(h.dir, 'recordings', h.a.id, `${c.id}.wav`), wav);
    await h.store.calls.update(c.id, { recordingPath: `recordings/${h.a.id}/${c.id}.wav` });
    const detail = await h.call('GET', `/api/v1/calls/${c.id}`, { headers: h.a.h });
    expect(detail.body.data.recordingUrl).toBe(`/api/v1/calls/${c.id}/recording`);
    const res = await fetch(`${h.url}/api/v1/calls/${c.id}/recording`, { headers: h.a.h });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/wav');
    expect(Buffer.from(await res.arrayBuffer()).equals(wav)).toBe(true);
    expect((await fetch(`${h.url}/api/v1/calls/${c.id}/recording`)).status).toBe(401);
    // The file is found from the call's own tenant and id (src/call-files.ts), never from the path in its row: a
    // row pointing outside DATA_DIR or at another tenant's file still serves only this call's own recording.
    const other = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(40, 2)]);
    mkdirSync(path.join(h.dir, 'recordings', h.b.id), { recursive: true });
    writeFileSync(path.join(h.dir, 'recordings', h.b.id, 'c_other.wav'), other);
    for (const recordingPath of ['../../etc/passwd', `recordings/${h.b.id}/c_other.wav`]) {
      await h.store.calls.update(c.id, { recordingPath });
      const r = await fetch(`${h.url}/api/v1/calls/${c.id}/recording`, { headers: h.a.h });
      expect(Buffer.from(await r.arrayBuffer()).equals(wav)).toBe(true);
    }
  });
});

describe('webhook endpoints through the API with the real dispatcher', () => {
  it('CRUD, signed delivery, attempts visible under /deliveries', async () => {
    const { startReceiver } = await import('../webhooks/receiver.js');
    const rx = await startReceiver([500]);
    const created = await h.call('POST', '/api/v1/webhooks', {
      headers: h.a.h,
      body: { url: rx.url, events: ['call.ended'] },
    });
    expect(created.status).toBe(201);
    expect(created.body.data.secret).toMatch(/^whsec_/);
    const id = created.body.data.id as string;
    const got = await h.call('GET', `/api/v1/webhooks/${id}`, { headers: h.a.h });
    expect(got.body.data).not.toHaveProperty('secret');
    const bad = await h.call('POST', '/api/v1/webhooks', {
      headers: h.a.h,
      body: { url: 'ftp://x', events: ['call.exploded'] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { field: string }) => d.field)).toEqual(
      expect.arrayContaining(['url', 'events.0']),
    );
    const d = createWebhookDispatcher({ store: h.store, logger: silentLogger, pollMs: 10, baseDelayMs: 10 });
    d.start();
    await d.enqueue(h.a.id, 'call.ended', { callId: 'c_x' });
    await rx.waitFor(2);
    await d.stop();
    const del = await h.call('GET', `/api/v1/webhooks/${id}/deliveries`, { headers: h.a.h });
    expect(del.body.data.rows.map((a: { ok: boolean }) => a.ok)).toEqual([true, false]);
    const p = await h.call('PATCH', `/api/v1/webhooks/${id}`, { headers: h.a.h, body: { enabled: false } });
    expect(p.body.data.enabled).toBe(false);
    expect((await h.call('GET', '/api/v1/webhooks', { headers: h.a.h })).body.data).toHaveLength(1);
    expect((await h.call('DELETE', `/api/v1/webhooks/${id}`, { headers: h.a.h })).status).toBe(200);
    expect((await h.call('GET', `/api/v1/webhooks/${id}`, { headers: h.a.h })).status).toBe(404);
    await rx.close();
  });
});
