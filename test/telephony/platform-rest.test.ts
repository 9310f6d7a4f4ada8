import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPlatformControl } from '../../src/channels/call-control.js';
import { silentLogger } from '../../src/log.js';
import { openStore, type Store } from '../../src/store/index.js';
import { CloseCode } from '../../src/telephony/close-codes.js';
import { startControlFake } from '../channels/control-fake.js';
import {
  assistant,
  loadFixture,
  type RecordedCall,
  render,
  startServer,
  type TestServer,
  WireClient,
} from './helpers.js';

/**
 * The whole chain over real sockets: a platform's start message -> the leg's call id -> leg.hangup() / transfer()
 * -> GatewayDeps.control (gatewayControl(createPlatformControl)) -> the tenant's plugin credentials -> the
 * platform's REST API (a loopback fake). The session never sees any of it.
 */
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
const creds = {
  twilio: { accountSid: 'AC0000', authToken: 'tw-token' },
  telnyx: { apiKey: 'KEY_tx' },
  plivo: { authId: 'MAXXXXXXXXXXXXXXXXXX', authToken: 'pl-token' },
  vonage: { applicationId: 'app-1', publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
  jambonz: { accountSid: 'acc-1', apiKey: 'jb-key' },
};

let fake: Awaited<ReturnType<typeof startControlFake>>;
let store: Store;
let srv: TestServer;

beforeAll(async () => {
  fake = await startControlFake(creds);
  store = openStore({ file: ':memory:' });
  const tenant = (await store.tenants.create({ email: 'rest@x' })).id;
  const plugin = async (id: string, config: Record<string, string>) => {
    await store.account.purchasePlugin(tenant, id, 0);
    await store.account.configurePlugin(tenant, id, { ...config, baseUrl: `${fake.url}/${id}` });
  };
  await plugin('twilio', creds.twilio);
  await plugin('telnyx', creds.telnyx);
  await plugin('plivo', creds.plivo);
  await plugin('vonage', {
    applicationId: 'app-1',
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  });
  await plugin('jambonz', creds.jambonz);
  const control = createPlatformControl({ store, logger: silentLogger, publicUrl: 'https://engine.example.com' });
  srv = await startServer({
    control,
    resolve: async () => ({ ok: true, call: { tenantId: tenant, assistant: assistant() } }),
  });
});
afterAll(async () => {
  await srv.close();
  store.close();
  await fake.close();
});
beforeEach(() => {
  fake.requests.length = 0;
  fake.live.clear();
});

async function open(protocol: string, start?: string): Promise<{ client: WireClient; call: RecordedCall }> {
  const fx = loadFixture(protocol);
  const client = new WireClient(`${srv.url}${fx.path}`, fx.subprotocol ?? undefined);
  await client.opened;
  const callP = srv.nextCall();
  if (start) client.send(start);
  else for (const [i, step] of fx.start.entries()) client.send(render(step, { seq: i + 1 }));
  return { client, call: await callP };
}

describe('platform REST behind the media leg', () => {
  it('telnyx: hangup is a Call Control hangup on the start message call_control_id, then the close', async () => {
    const id = 'v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg';
    fake.live.add(id);
    const { client, call } = await open('telnyx');
    await call.leg.hangup('goodbye');
    expect((await client.closed).code).toBe(CloseCode.NORMAL);
    expect(fake.requests.map((r) => `${r.method} /${r.platform}${r.path} ${r.body}`)).toEqual([
      `POST /telnyx/v2/calls/${id}/actions/hangup {}`,
    ]);
    expect(fake.live.has(id)).toBe(false);
  });

  it('telnyx: a call the platform already ended (422 90018) still hangs up cleanly', async () => {
    const { client, call } = await open('telnyx');
    await call.leg.hangup('goodbye');
    expect((await client.closed).code).toBe(CloseCode.NORMAL);
    expect(fake.requests).toHaveLength(1);
  });

  it('twilio: hangup is the close (no REST); transfer is a call update with <Dial>, then the close', async () => {
    fake.live.add('CA5f9a');
    const a = await open('twilio');
    await a.call.leg.hangup('bye');
    await a.client.closed;
    expect(fake.requests).toHaveLength(0);
    const b = await open('twilio');
    await b.call.leg.transfer('+15551234567', 'cold');
    expect((await b.client.closed).code).toBe(CloseCode.NORMAL);
    expect(fake.requests.map((r) => [r.method, r.path, new URLSearchParams(r.body).get('Twiml')])).toEqual([
      [
        'POST',
        '/2010-04-01/Accounts/AC0000/Calls/CA5f9a.json',
        '<Response><Dial><Number>+15551234567</Number></Dial></Response>',
      ],
    ]);
  });

  it('plivo: hangup deletes the call by the start message callId', async () => {
    fake.live.add('1234a-call');
    const { client, call } = await open('plivo');
    await call.leg.hangup('bye');
    await client.closed;
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `DELETE /v1/Account/${creds.plivo.authId}/Call/1234a-call/`,
    ]);
  });

  it('vonage: hangup uses the call_uuid the NCCO put in the websocket headers', async () => {
    const uuid = '63f61863-4a51-4f6b-86e1-46edebcf9356';
    fake.live.add(uuid);
    const { client, call } = await open(
      'vonage',
      JSON.stringify({ event: 'websocket:connected', 'content-type': 'audio/l16;rate=16000', call_uuid: uuid }),
    );
    await call.leg.hangup('bye');
    await client.closed;
    expect(fake.requests.map((r) => `${r.method} ${r.path} ${r.body}`)).toEqual([
      `PUT /v1/calls/${uuid} {"action":"hangup"}`,
    ]);
    expect(fake.live.has(uuid)).toBe(false);
  });

  it('jambonz: hangup is the socket disconnect; transfer redirects call_hook over REST', async () => {
    fake.live.add('jb-call-1');
    const a = await open('jambonz');
    await a.call.leg.hangup('bye');
    await a.client.closed;
    expect(a.client.texts()).toEqual(['{"type":"disconnect"}']);
    expect(fake.requests).toHaveLength(0);
    const b = await open('jambonz');
    await b.call.leg.transfer('sip:desk@pbx.example.com', 'cold');
    await b.client.closed;
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['PUT /v1/Accounts/acc-1/Calls/jb-call-1']);
    expect(new URL((JSON.parse(fake.requests[0]!.body) as { call_hook: string }).call_hook).pathname).toBe(
      '/webhook/transfer/jambonz',
    );
  });

  it("exotel: transfer is 'unsupported' and sends nothing anywhere", async () => {
    const { client, call } = await open('exotel');
    await expect(call.leg.transfer('+15551234567', 'cold')).resolves.toBe('unsupported');
    expect(call.leg.closed).toBe(false);
    client.close();
    await client.closed;
    expect(fake.requests).toHaveLength(0);
  });
});
