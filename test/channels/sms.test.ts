import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSmsSender } from '../../src/channels/sms.js';
import { type Harness, startHarness } from '../api/harness.js';
import { startTwilioFake } from './twilio-fake.js';

/**
 * A loopback Telnyx Messaging API: `POST /v2/messages` with `Authorization: Bearer <API key>` and JSON
 * `{from, to, text}`, answering 200 `{data: {id, to: [{phone_number, status: "queued"}], …}}` or Telnyx's error
 * shape `{errors: [{code, title, detail}]}`.
 */
async function startTelnyxFake(apiKey: string) {
  const requests: Array<{ path: string; authorization: string; body: Record<string, string> }> = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, string>;
    requests.push({ path: req.url ?? '', authorization: req.headers.authorization ?? '', body });
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    if (req.method !== 'POST' || req.url !== '/v2/messages')
      return send(404, { errors: [{ code: '10005', title: 'Not found' }] });
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return send(401, { errors: [{ code: '10009', title: 'Authentication failed', detail: 'Bad API key' }] });
    }
    if (!body.from || !body.to || !body.text)
      return send(422, { errors: [{ code: '10004', title: 'Missing parameter' }] });
    return send(200, {
      data: {
        record_type: 'message',
        id: randomUUID(),
        from: { phone_number: body.from },
        to: [{ phone_number: body.to, status: 'queued' }],
        text: body.text,
        type: 'SMS',
      },
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const tw = { sid: 'ACsmssmssmssmssmssmssmssmssmssmss', token: 'sms_token' };
let h: Harness;
let twilio: Awaited<ReturnType<typeof startTwilioFake>>;
let telnyx: Awaited<ReturnType<typeof startTelnyxFake>>;

beforeAll(async () => {
  twilio = await startTwilioFake(tw);
  telnyx = await startTelnyxFake('KEYtelnyx');
  h = await startHarness((store) => ({ sms: createSmsSender({ store, fetch }) }));
  await h.store.account.purchasePlugin(h.a.id, 'twilio', 0);
  await h.store.account.configurePlugin(h.a.id, 'twilio', {
    accountSid: tw.sid,
    authToken: tw.token,
    fromNumber: '+15550001111',
    baseUrl: twilio.url,
  });
  await h.store.account.purchasePlugin(h.b.id, 'telnyx', 0);
  await h.store.account.configurePlugin(h.b.id, 'telnyx', {
    apiKey: 'KEYtelnyx',
    fromNumber: '+15550002222',
    baseUrl: telnyx.url,
  });
});
afterAll(async () => {
  await h.close();
  await twilio.close();
  await telnyx.close();
});

describe('POST /api/v1/sms/send', () => {
  it('sends through Twilio Messages.json (basic auth) and records an analytics/sms row', async () => {
    const r = await h.call('POST', '/api/v1/sms/send', {
      headers: h.a.h,
      body: { to_number: '+2348012345678', message: 'Your order shipped.' },
    });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({
      message_id: expect.stringMatching(/^SM/),
      status: 'queued',
      provider: 'twilio',
    });
    const req = twilio.requests.at(-1)!;
    expect(req.path).toBe(`/2010-04-01/Accounts/${tw.sid}/Messages.json`);
    expect(req.authorization).toBe(`Basic ${Buffer.from(`${tw.sid}:${tw.token}`).toString('base64')}`);
    expect(req.form).toEqual({ To: '+2348012345678', From: '+15550001111', Body: 'Your order shipped.' });
    const rows = (await h.call('GET', '/api/v1/account/analytics/sms', { headers: h.a.h })).body.data.rows;
    expect(rows[0]).toMatchObject({
      kind: 'sms',
      channel: 'sms',
      provider: 'twilio',
      to: '+2348012345678',
      message_id: r.body.data.message_id,
      chars: 19,
    });
  });

  it('sends through Telnyx /v2/messages (Bearer) for a tenant with the telnyx plugin', async () => {
    const r = await h.call('POST', '/api/v1/sms/send', {
      headers: h.b.h,
      body: { to_number: '+390815551234', message: 'Ciao' },
    });
    expect(r.status).toBe(200);
    expect(r.body.data.provider).toBe('telnyx');
    expect(telnyx.requests.at(-1)).toMatchObject({
      authorization: 'Bearer KEYtelnyx',
      body: { from: '+15550002222', to: '+390815551234', text: 'Ciao' },
    });
    const rows = (await h.call('GET', '/api/v1/account/analytics/sms', { headers: h.b.h })).body.data.rows;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider: 'telnyx', message_id: r.body.data.message_id });
  });

  it('refuses a bad number (422 naming the field), no plugin (422), a carrier refusal (502)', async () => {
    const bad = await h.call('POST', '/api/v1/sms/send', {
      headers: h.a.h,
      body: { to_number: '12345', message: 'x' },
    });
    expect(bad.body.error).toMatchObject({ code: 'INVALID_PHONE_NUMBER', details: [{ field: 'to_number' }] });
    const t = await h.store.tenants.create({ email: 'c@example.com' });
    const { secret } = await h.store.apiKeys.create(t.id);
    const none = await h.call('POST', '/api/v1/sms/send', {
      headers: { authorization: `Bearer ${secret}` },
      body: { to_number: '+2348012345678', message: 'x' },
    });
    expect(none.status).toBe(422);
    expect(none.body.error.code).toBe('CHANNEL_NOT_CONFIGURED');
    twilio.failNext.push(400);
    const refused = await h.call('POST', '/api/v1/sms/send', {
      headers: h.a.h,
      body: { to_number: '+2348012345678', message: 'x' },
    });
    expect(refused.status).toBe(502);
    expect(refused.body.error.code).toBe('PROVIDER_ERROR');
  });
});
