import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPlatformControl } from '../../src/channels/call-control.js';
import { transferHookUrl } from '../../src/channels/transfer-hook.js';
import { silentLogger } from '../../src/log.js';
import type { CallStartInfo } from '../../src/telephony/leg.js';
import { startControlFake } from '../channels/control-fake.js';
import { type Harness, startHarness } from './harness.js';

/**
 * /webhook/transfer/{plivo|jambonz}: the dial instructions Plivo (aleg_url) and jambonz (call_hook) fetch during a
 * REST transfer, served only for URLs the engine signed with the tenant's plugin secret.
 */
let h: Harness;
let fake: Awaited<ReturnType<typeof startControlFake>>;
const plivo = { authId: 'MAAAAAAAAAAAAAAAAAAA', authToken: 'plivo-tenant-a-token' };

beforeAll(async () => {
  h = await startHarness();
  const pub = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' });
  fake = await startControlFake({
    twilio: { accountSid: 'AC', authToken: 'x' },
    telnyx: { apiKey: 'x' },
    plivo,
    vonage: { applicationId: 'x', publicKeyPem: pub.toString() },
    jambonz: { accountSid: 'acc', apiKey: 'jb-tenant-a-key' },
  });
  await h.store.account.purchasePlugin(h.a.id, 'plivo', 0);
  await h.store.account.configurePlugin(h.a.id, 'plivo', { ...plivo, baseUrl: `${fake.url}/plivo` });
  await h.store.account.purchasePlugin(h.a.id, 'jambonz', 0);
  await h.store.account.configurePlugin(h.a.id, 'jambonz', { accountSid: 'acc', apiKey: 'jb-tenant-a-key' });
});
afterAll(async () => {
  await h.close();
  await fake.close();
});

const info: CallStartInfo = {
  protocol: 'plivo',
  callId: 'call-uuid-1',
  streamId: 'stream-1',
  customParameters: {},
  inboundFormat: { encoding: 'pcm16', sampleRate: 8000, channels: 1 },
  outboundFormat: { encoding: 'pcm16', sampleRate: 8000, channels: 1 },
  dtmfEvents: true,
  marks: true,
};

it('a Plivo transfer end to end: REST with aleg_url, then Plivo fetches <Dial> XML from the engine', async () => {
  fake.live.add('call-uuid-1');
  const control = createPlatformControl({ store: h.store, logger: silentLogger, publicUrl: h.url });
  expect(await control({ tenantId: h.a.id }, info).transfer('+1 (555) 123-4567', 'cold')).toBe('done');
  const aleg = (JSON.parse(fake.requests.at(-1)!.body) as { aleg_url: string }).aleg_url;
  // Plivo requests aleg_url with aleg_method (POST), form-encoded call parameters.
  const res = await fetch(aleg, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'CallUUID=call-uuid-1&From=15550001111&To=15552223333',
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('application/xml');
  expect(await res.text()).toBe(
    '<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Number>15551234567</Number></Dial></Response>',
  );
});

it('jambonz fetches its dial verb (GET or POST JSON)', async () => {
  const url = transferHookUrl(h.url, 'jambonz', h.a.id, 'sip:desk@pbx.example.com', 'jb-tenant-a-key');
  const verbs = [{ verb: 'dial', target: [{ type: 'sip', sipUri: 'sip:desk@pbx.example.com' }] }];
  const get = await fetch(url);
  expect(get.status).toBe(200);
  expect(await get.json()).toEqual(verbs);
  const post = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ call_sid: 'x', direction: 'inbound' }),
  });
  expect(await post.json()).toEqual(verbs);
});

it('Twilio fetches the warm-transfer whisper (<Say>, escaped) signed with the tenant auth token', async () => {
  await h.store.account.purchasePlugin(h.a.id, 'twilio', 0);
  await h.store.account.configurePlugin(h.a.id, 'twilio', { accountSid: 'AC1', authToken: 'tw-a-token' });
  const url = transferHookUrl(h.url, 'twilio', h.a.id, 'Ann <VIP> wants a refund & more', 'tw-a-token');
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'CallSid=CA2&CallStatus=in-progress',
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('application/xml');
  expect(await res.text()).toBe(
    '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Ann &#60;VIP&#62; wants a refund &#38; more</Say></Response>',
  );
  expect((await fetch(transferHookUrl(h.url, 'twilio', h.a.id, 'say this', 'not-the-token'))).status).toBe(403);
});

it('Vonage fetches the warm-transfer whisper NCCO (GET) signed with the tenant private key', async () => {
  await h.store.account.purchasePlugin(h.a.id, 'vonage', 0);
  await h.store.account.configurePlugin(h.a.id, 'vonage', { applicationId: 'app', privateKey: 'PEM-A' });
  const res = await fetch(transferHookUrl(h.url, 'vonage', h.a.id, 'Wants a refund', 'PEM-A'));
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual([{ action: 'talk', text: 'Wants a refund' }]);
  expect((await fetch(transferHookUrl(h.url, 'vonage', h.a.id, 'Wants a refund', 'PEM-B'))).status).toBe(403);
});

it('refuses unsigned, tampered, foreign-tenant and wrong-platform URLs (403), never dialing', async () => {
  const good = new URL(transferHookUrl(h.url, 'plivo', h.a.id, '+15551234567', plivo.authToken));
  const tries: string[] = [];
  const tampered = new URL(good);
  tampered.searchParams.set('to', '+19005550000');
  tries.push(tampered.toString());
  const other = new URL(good);
  other.searchParams.set('t', h.b.id);
  tries.push(other.toString());
  tries.push(good.toString().replace('/webhook/transfer/plivo', '/webhook/transfer/jambonz'));
  // Signed with a key that is not tenant A's plugin secret.
  tries.push(transferHookUrl(h.url, 'plivo', h.a.id, '+15551234567', 'guessed-token'));
  // Tenant B has no plivo plugin at all.
  tries.push(transferHookUrl(h.url, 'plivo', h.b.id, '+15551234567', ''));
  for (const u of tries) {
    const r = await fetch(u);
    expect(r.status, u).toBe(403);
    const text = await r.text();
    expect(text).not.toContain('Dial');
    expect(text).not.toContain(plivo.authToken);
  }
  expect((await fetch(`${h.url}/webhook/transfer/plivo`)).status).toBe(400);
  expect((await fetch(`${h.url}/webhook/transfer/exotel?t=a&to=1&exp=1&sig=00`)).status).toBe(400);
});
