import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Assistant } from '../../src/assistant.js';
import { createAsteriskDialer } from '../../src/channels/asterisk.js';
import { createChannelDialer } from '../../src/channels/dialer.js';
import { createTwilioDialer } from '../../src/channels/twilio.js';
import { connectStreamTwiml } from '../../src/channels/twiml.js';
import { DialError } from '../../src/channels/types.js';
import { createWhatsAppSender } from '../../src/channels/whatsapp.js';
import { createOutboundWorker } from '../../src/channels/worker.js';
import { silentLogger } from '../../src/log.js';
import { createGuardedFetch } from '../../src/net/egress.js';
import { openStore } from '../../src/store/index.js';
import { startTwilioFake, twilioTenant } from './twilio-fake.js';

const creds = { sid: 'AC0123456789abcdef0123456789abcdef', token: 'tok_secret' };
let fake: Awaited<ReturnType<typeof startTwilioFake>>;
beforeAll(async () => {
  fake = await startTwilioFake(creds);
});
afterAll(async () => fake.close());

const assistant = {
  id: 'ag_1',
  assistantApiKey: 'ast_KEY',
  tenantId: 't1',
  config: {},
  version: 1,
  createdAt: '',
  updatedAt: '',
} as Assistant;

describe('twiml', () => {
  it('connects a media stream to our endpoint with the call id parameter, escaped', () => {
    expect(connectStreamTwiml('https://engine.example.com/', 'ast_K', 'c_1&2')).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://engine.example.com/media/twilio/ast_K">' +
        '<Parameter name="callId" value="c_1&amp;2"/></Stream></Connect></Response>',
    );
  });
});

describe('twilio dialer', () => {
  const dialer = () =>
    createTwilioDialer({
      publicUrl: 'https://engine.example.com',
      credentials: async () => ({
        accountSid: creds.sid,
        authToken: creds.token,
        fromNumber: '+15550001111',
        baseUrl: fake.url,
      }),
    });

  it('POSTs Calls.json with basic auth, To/From and TwiML, returns the CallSid', async () => {
    fake.requests.length = 0;
    const r = await dialer().dial({
      callId: 'c_42',
      tenantId: 't1',
      assistant,
      to: '+15552223333',
      channel: 'twilio',
      metadata: {},
    });
    expect(r.providerCallId).toMatch(/^CA[0-9a-f]{32}$/);
    const req = fake.requests[0]!;
    expect(req.path).toBe(`/2010-04-01/Accounts/${creds.sid}/Calls.json`);
    expect(req.contentType).toBe('application/x-www-form-urlencoded');
    expect(req.form.To).toBe('+15552223333');
    expect(req.form.From).toBe('+15550001111');
    expect(req.form.Twiml).toContain('<Stream url="wss://engine.example.com/media/twilio/ast_KEY">');
    expect(req.form.Twiml).toContain('<Parameter name="callId" value="c_42"/>');
  });

  it('classifies errors: auth is final, 5xx is retryable, missing config is final', async () => {
    const bad = createTwilioDialer({
      publicUrl: 'https://e.example',
      credentials: async () => ({ accountSid: creds.sid, authToken: 'wrong', fromNumber: '+1555', baseUrl: fake.url }),
    });
    const e1 = await bad
      .dial({ callId: 'c', tenantId: 't', assistant, to: '+1', channel: 'twilio', metadata: {} })
      .catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(DialError);
    expect((e1 as DialError).retryable).toBe(false);
    expect((e1 as DialError).message).toContain('20003');
    fake.failNext.push(503);
    const e2 = await dialer()
      .dial({ callId: 'c', tenantId: 't', assistant, to: '+1', channel: 'twilio', metadata: {} })
      .catch((e: unknown) => e);
    expect((e2 as DialError).retryable).toBe(true);
    const none = createTwilioDialer({ publicUrl: 'https://e.example', credentials: async () => undefined });
    await expect(
      none.dial({ callId: 'c', tenantId: 't', assistant, to: '+1', channel: 'twilio', metadata: {} }),
    ).rejects.toThrow(/plugin/);
  });
});

describe('outbound worker over the persisted queue', () => {
  it('dials with the tenant plugin credentials, retries a 503, fails unknown channels with a call.failed event', async () => {
    const store = openStore({ file: ':memory:' });
    const { tenantId, assistantId } = await twilioTenant(store, fake, creds);
    const t = { id: tenantId };
    const a = { id: assistantId };
    const events: Array<[string, Record<string, unknown>]> = [];
    const worker = createOutboundWorker({
      store,
      dialer: createChannelDialer({ store, publicUrl: 'https://engine.example.com' }),
      logger: silentLogger,
      retryDelayMs: 0,
      webhooks: { enqueue: async (_t, type, p) => void events.push([type, p]) },
    });
    const call = await store.calls.create({
      tenantId: t.id,
      assistantId: a.id,
      direction: 'outbound',
      to: '+15552223333',
    });
    await store.outbound.enqueue({ tenantId: t.id, callId: call.id, assistantId: a.id, to: '+15552223333' });
    fake.failNext.push(503);
    await worker.drain();
    const got = await store.calls.get(t.id, call.id);
    expect(got?.status).toBe('queued');
    expect(got?.providerCallId).toMatch(/^CA/);

    const pbx = await store.calls.create({ tenantId: t.id, assistantId: a.id, direction: 'outbound', to: '100' });
    await store.outbound.enqueue({ tenantId: t.id, callId: pbx.id, assistantId: a.id, to: '100', channel: 'asterisk' });
    await worker.drain();
    const failed = await store.calls.get(t.id, pbx.id);
    expect(failed?.status).toBe('failed');
    expect(failed?.endReason).toMatch(/asterisk/);
    expect(events).toEqual([['call.failed', expect.objectContaining({ call_id: pbx.id })]]);
    store.close();
  });
});

describe('twilio request signature', () => {
  it("reproduces Twilio's published vector (twilio-csharp RequestValidatorTest)", async () => {
    const { twilioPostSignature, verifyTwilioPost } = await import('../../src/channels/twilio-status.js');
    const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
    const params = {
      CallSid: 'CA1234567890ABCDE',
      Caller: '+14158675309',
      Digits: '1234',
      From: '+14158675309',
      To: '+18005551212',
    };
    expect(twilioPostSignature('12345', url, params)).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
    expect(verifyTwilioPost('12345', ['https://other/', url], params, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=')).toBe(true);
    expect(verifyTwilioPost('12345', [url], { ...params, Digits: '9' }, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=')).toBe(false);
  });
});

describe('egress guard on tenant-configured carrier URLs (src/net/egress.ts)', () => {
  const req = { callId: 'c', tenantId: 't', assistant, to: '+1', channel: 'twilio', metadata: {} } as const;
  const twilioAt = (baseUrl: string, f?: typeof fetch) =>
    createTwilioDialer({
      publicUrl: 'https://e.example',
      ...(f ? { fetch: f } : {}),
      credentials: async () => ({ accountSid: creds.sid, authToken: creds.token, fromNumber: '+1555', baseUrl }),
    });

  it('a Twilio baseUrl at cloud metadata is refused by default, as a final (not retryable) dial error', async () => {
    for (const base of ['http://169.254.169.254', 'http://2852039166', 'http://[::ffff:169.254.169.254]']) {
      const e = await twilioAt(base)
        .dial(req)
        .catch((err: unknown) => err);
      expect(e, base).toBeInstanceOf(DialError);
      expect((e as DialError).retryable).toBe(false);
      expect((e as DialError).message).toMatch(/Egress refused: .*link-local/);
    }
  });

  it('with blockPrivate the loopback fake is refused before any request; allowHosts exempts it', async () => {
    fake.requests.length = 0;
    const strict = createGuardedFetch({ blockPrivate: true });
    const e = await twilioAt(fake.url, strict)
      .dial(req)
      .catch((err: unknown) => err);
    expect((e as DialError).message).toMatch(/127\.0\.0\.1 .*loopback/);
    expect(fake.requests).toHaveLength(0);
    const exempt = createGuardedFetch({ blockPrivate: true, allowHosts: ['127.0.0.0/8'] });
    const r = await twilioAt(fake.url, exempt).dial(req);
    expect(r.providerCallId).toMatch(/^CA/);
    expect(fake.requests).toHaveLength(1);
  });

  it('an Asterisk ariUrl and a WhatsApp baseUrl at metadata are refused', async () => {
    const ari = createAsteriskDialer({
      config: async () => ({
        ariUrl: 'http://0xa9fea9fe:8088',
        username: 'u',
        password: 'p',
        endpoint: 'PJSIP/{number}@trunk',
        context: 'engine',
      }),
    });
    const e = await ari.dial({ ...req, channel: 'asterisk' }).catch((err: unknown) => err);
    expect((e as DialError).retryable).toBe(false);
    expect((e as DialError).message).toMatch(/Egress refused/);

    const store = openStore({ file: ':memory:' });
    const t = await store.tenants.create({ email: 'a@x' });
    await store.account.purchasePlugin(t.id, 'whatsapp', 0);
    await store.account.configurePlugin(t.id, 'whatsapp', {
      phoneNumberId: '1234567890',
      accessToken: 'EAAtoken',
      baseUrl: 'http://[fe80::1]',
    });
    const wa = createWhatsAppSender({ store });
    await expect(wa.send({ tenantId: t.id, to: '+15551230000', content: { type: 'text', text: 'x' } })).rejects.toThrow(
      /Egress refused: .*link-local/,
    );
    store.close();
  });
});
