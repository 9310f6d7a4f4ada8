import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPlatformControl, normalizeTarget } from '../../src/channels/call-control.js';
import { CallControlError } from '../../src/channels/control-request.js';
import { verifyTransferHook } from '../../src/channels/transfer-hook.js';
import { vonageJwt } from '../../src/channels/vonage-jwt.js';
import { silentLogger } from '../../src/log.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { TransferMode } from '../../src/telephony/call-control.js';
import type { ControlFor } from '../../src/telephony/gateway.js';
import type { CallStartInfo } from '../../src/telephony/leg.js';
import { fakeCreds, startControlFake, verifyJwt } from './control-fake.js';

const { creds, vonagePrivatePem: privatePem } = fakeCreds();
const SECRETS = [creds.twilio.authToken, creds.telnyx.apiKey, creds.plivo.authToken, creds.jambonz.apiKey, privatePem];

const TWILIO_SID = 'CA0123456789abcdef0123456789abcdef';
const TELNYX_ID = 'v3:abc-DEF_123';

let fake: Awaited<ReturnType<typeof startControlFake>>;
let store: Store;
let tenant: string;
let control: ReturnType<typeof via>;

/** The carrier bound to one call of `tenantId` (as the gateway binds it for each leg), then asked once. */
function via(c: ControlFor) {
  return {
    hangup: (tenantId: string, i: CallStartInfo) => c({ tenantId }, i).hangup('test'),
    transfer: (tenantId: string, i: CallStartInfo, target: string, mode: TransferMode, summary?: string) =>
      c({ tenantId }, i).transfer(target, mode, summary),
  };
}

async function plugin(tenantId: string, id: string, config: Record<string, string>): Promise<void> {
  await store.account.purchasePlugin(tenantId, id, 0);
  await store.account.configurePlugin(tenantId, id, config);
}

beforeAll(async () => {
  fake = await startControlFake(creds);
  store = openStore({ file: ':memory:' });
  tenant = (await store.tenants.create({ email: 'cc@x' })).id;
  await plugin(tenant, 'twilio', { ...creds.twilio, fromNumber: '+15550001111', baseUrl: `${fake.url}/twilio/` });
  await plugin(tenant, 'telnyx', { ...creds.telnyx, baseUrl: `${fake.url}/telnyx` });
  await plugin(tenant, 'plivo', { ...creds.plivo, baseUrl: `${fake.url}/plivo` });
  await plugin(tenant, 'vonage', {
    applicationId: creds.vonage.applicationId,
    // As a one-line config field would carry it.
    privateKey: privatePem.replace(/\n/g, '\\n'),
    baseUrl: `${fake.url}/vonage`,
  });
  await plugin(tenant, 'jambonz', { ...creds.jambonz, baseUrl: `${fake.url}/jambonz` });
  control = via(createPlatformControl({ store, logger: silentLogger }));
});
afterAll(async () => {
  store.close();
  await fake.close();
});
beforeEach(() => {
  fake.requests.length = 0;
  fake.failNext.length = 0;
  fake.live.clear();
  fake.jwtClaims.length = 0;
});

function info(protocol: string, callId: string, extra: Partial<CallStartInfo> = {}): CallStartInfo {
  const f = { encoding: 'mulaw', sampleRate: 8000, channels: 1 } as const;
  return {
    protocol,
    callId,
    customParameters: {},
    inboundFormat: f,
    outboundFormat: f,
    dtmfEvents: true,
    marks: true,
    ...extra,
  };
}

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

describe('twilio call update', () => {
  it('hangs up with Status=completed (basic auth, form body), then reports an ended call as already-ended', async () => {
    fake.live.add(TWILIO_SID);
    expect(await control.hangup(tenant, info('twilio', TWILIO_SID))).toBe('done');
    expect(await control.hangup(tenant, info('twilio', TWILIO_SID))).toBe('already-ended');
    expect(fake.requests).toHaveLength(2);
    const r = fake.requests[0]!;
    expect([r.platform, r.method, r.path]).toEqual([
      'twilio',
      'POST',
      `/2010-04-01/Accounts/${creds.twilio.accountSid}/Calls/${TWILIO_SID}.json`,
    ]);
    expect(r.authorization).toBe(basic(creds.twilio.accountSid, creds.twilio.authToken));
    expect(r.contentType).toBe('application/x-www-form-urlencoded');
    expect(r.body).toBe('Status=completed');
  });

  it('transfers with inline TwiML: <Number> for a phone number, <Sip> for a SIP URI', async () => {
    fake.live.add(TWILIO_SID);
    expect(await control.transfer(tenant, info('twilio', TWILIO_SID), '+1 (555) 123-4567', 'cold')).toBe('done');
    expect(await control.transfer(tenant, info('twilio', TWILIO_SID), 'sip:agent@pbx.example.com', 'warm', 'hi')).toBe(
      'done',
    );
    expect(new URLSearchParams(fake.requests[0]!.body).get('Twiml')).toBe(
      '<Response><Dial><Number>+15551234567</Number></Dial></Response>',
    );
    expect(fake.requests[0]!.body).toBe(
      `Twiml=${encodeURIComponent('<Response><Dial><Number>+15551234567</Number></Dial></Response>').replace(/%20/g, '+')}`,
    );
    expect(new URLSearchParams(fake.requests[1]!.body).get('Twiml')).toBe(
      '<Response><Dial><Sip>sip:agent@pbx.example.com</Sip></Dial></Response>',
    );
  });

  it('warm with a summary: the <Number url> whispers it to the human (signed document); cold: no whisper', async () => {
    fake.live.add(TWILIO_SID);
    const withUrl = via(
      createPlatformControl({ store, logger: silentLogger, publicUrl: 'https://engine.example.com' }),
    );
    const summary = 'Caller <Ann> wants a refund & a call back';
    expect(await withUrl.transfer(tenant, info('twilio', TWILIO_SID), '+15551234567', 'warm', summary)).toBe('done');
    expect(await withUrl.transfer(tenant, info('twilio', TWILIO_SID), '+15551234567', 'cold', summary)).toBe('done');
    const twiml = new URLSearchParams(fake.requests[0]!.body).get('Twiml')!;
    const m = /^<Response><Dial><Number url="([^"]+)">\+15551234567<\/Number><\/Dial><\/Response>$/.exec(twiml);
    expect(m, twiml).not.toBeNull();
    const whisper = new URL(m![1]!.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))));
    expect(`${whisper.origin}${whisper.pathname}`).toBe('https://engine.example.com/webhook/transfer/twilio');
    const q = Object.fromEntries(whisper.searchParams) as Record<string, string>;
    expect(verifyTransferHook('twilio', q, creds.twilio.authToken)).toBe(summary);
    expect(new URLSearchParams(fake.requests[1]!.body).get('Twiml')).toBe(
      '<Response><Dial><Number>+15551234567</Number></Dial></Response>',
    );
  });

  it('refuses a target that is neither a number nor a sip: URI, sending nothing', async () => {
    for (const t of ['</Number><Redirect>http://x</Redirect>', 'sip:a@b"><Play>x', '', 'tel:+1555']) {
      await expect(control.transfer(tenant, info('twilio', TWILIO_SID), t, 'cold')).rejects.toThrow(/target/);
    }
    expect(normalizeTarget('sip:a@b"><x')).toBeUndefined();
    expect(fake.requests).toHaveLength(0);
  });

  it('transfer of an ended call fails (not success)', async () => {
    const err = await control
      .transfer(tenant, info('twilio', TWILIO_SID), '+15551234567', 'cold')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CallControlError);
    expect((err as CallControlError).message).toBe('twilio transfer failed: HTTP 404 (code 20404)');
  });

  it('a 5xx is retried once; two 5xx fail with the status', async () => {
    fake.live.add(TWILIO_SID);
    fake.failNext.push(503);
    expect(await control.hangup(tenant, info('twilio', TWILIO_SID))).toBe('done');
    expect(fake.requests).toHaveLength(2);
    fake.live.add(TWILIO_SID);
    fake.failNext.push(500, 502);
    const err = await control.hangup(tenant, info('twilio', TWILIO_SID)).catch((e: unknown) => e);
    expect((err as CallControlError).status).toBe(502);
    expect(fake.requests).toHaveLength(4);
    // A 4xx is final: not retried.
    fake.requests.length = 0;
    const bad = await openStore({ file: ':memory:' });
    const t = (await bad.tenants.create({ email: 'b@x' })).id;
    await bad.account.purchasePlugin(t, 'twilio', 0);
    await bad.account.configurePlugin(t, 'twilio', {
      ...creds.twilio,
      authToken: 'wrong',
      baseUrl: `${fake.url}/twilio`,
    });
    const e401 = await via(createPlatformControl({ store: bad, logger: silentLogger }))
      .hangup(t, info('twilio', TWILIO_SID))
      .catch((e: unknown) => e);
    expect((e401 as Error).message).toBe('twilio hangup failed: HTTP 401 (code 20003)');
    expect(fake.requests).toHaveLength(1);
    bad.close();
  });

  it('a call id that is not a CallSid (streamSid fallback) is unsupported, nothing sent', async () => {
    expect(await control.hangup(tenant, info('twilio', 'MZ0123456789abcdef0123456789abcdef'))).toBe('unsupported');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('telnyx call control', () => {
  it('hangs up by call_control_id (v3: kept in the path), Bearer JSON; 422 90018 is already-ended', async () => {
    fake.live.add(TELNYX_ID);
    expect(await control.hangup(tenant, info('telnyx', TELNYX_ID, { streamId: 'st-1' }))).toBe('done');
    expect(await control.hangup(tenant, info('telnyx', TELNYX_ID, { streamId: 'st-1' }))).toBe('already-ended');
    const r = fake.requests[0]!;
    expect([r.method, r.path, r.authorization, r.contentType, r.body]).toEqual([
      'POST',
      `/v2/calls/${TELNYX_ID}/actions/hangup`,
      `Bearer ${creds.telnyx.apiKey}`,
      'application/json',
      '{}',
    ]);
  });

  it('transfers with {"to": target}', async () => {
    fake.live.add(TELNYX_ID);
    expect(await control.transfer(tenant, info('telnyx', TELNYX_ID), '+15551234567', 'cold')).toBe('done');
    const r = fake.requests[0]!;
    expect([r.method, r.path, r.body]).toEqual([
      'POST',
      `/v2/calls/${TELNYX_ID}/actions/transfer`,
      '{"to":"+15551234567"}',
    ]);
  });

  it('when the start message had no call_control_id (callId fell back to stream_id): unsupported', async () => {
    expect(await control.hangup(tenant, info('telnyx', 'st-9', { streamId: 'st-9' }))).toBe('unsupported');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('plivo call API', () => {
  it('hangs up with DELETE .../Call/{uuid}/ (204); 404 is already-ended', async () => {
    const uuid = 'a1b2c3d4-0000-1111-2222-333344445555';
    fake.live.add(uuid);
    expect(await control.hangup(tenant, info('plivo', uuid, { streamId: 's' }))).toBe('done');
    expect(await control.hangup(tenant, info('plivo', uuid, { streamId: 's' }))).toBe('already-ended');
    const r = fake.requests[0]!;
    expect([r.method, r.path, r.authorization, r.body]).toEqual([
      'DELETE',
      `/v1/Account/${creds.plivo.authId}/Call/${uuid}/`,
      basic(creds.plivo.authId, creds.plivo.authToken),
      '',
    ]);
  });

  it('transfers the aleg to our signed <Dial> XML URL (JSON body, 202); without PUBLIC_URL: unsupported', async () => {
    fake.live.add('u-1');
    const withUrl = via(
      createPlatformControl({ store, logger: silentLogger, publicUrl: 'https://engine.example.com/' }),
    );
    expect(await withUrl.transfer(tenant, info('plivo', 'u-1'), '+1 555 123 4567', 'cold')).toBe('done');
    const r = fake.requests[0]!;
    expect([r.method, r.path, r.authorization, r.contentType]).toEqual([
      'POST',
      `/v1/Account/${creds.plivo.authId}/Call/u-1/`,
      basic(creds.plivo.authId, creds.plivo.authToken),
      'application/json',
    ]);
    const body = JSON.parse(r.body) as Record<string, string>;
    expect(Object.keys(body)).toEqual(['legs', 'aleg_url', 'aleg_method']);
    expect([body.legs, body.aleg_method]).toEqual(['aleg', 'POST']);
    const url = new URL(body.aleg_url!);
    expect(`${url.origin}${url.pathname}`).toBe('https://engine.example.com/webhook/transfer/plivo');
    expect(url.searchParams.get('t')).toBe(tenant);
    const q = Object.fromEntries(url.searchParams) as Record<string, string>;
    expect(verifyTransferHook('plivo', q, creds.plivo.authToken)).toBe('+15551234567');
    expect(verifyTransferHook('plivo', q, 'another-secret')).toBeUndefined();
    expect(await control.transfer(tenant, info('plivo', 'u-1'), '+15551234567', 'cold')).toBe('unsupported');
    expect(fake.requests).toHaveLength(1);
  });
});

describe('vonage voice API', () => {
  const uuid = '63f61863-4a51-4f6b-86e1-46edebcf9356';

  it('hangs up with PUT /v1/calls/{call_uuid} {"action":"hangup"} and a valid RS256 application JWT', async () => {
    fake.live.add(uuid);
    const i = info('vonage', 'vonage-x', { customParameters: { call_uuid: uuid, conversation_uuid: 'CON-1' } });
    expect(await control.hangup(tenant, i)).toBe('done');
    expect(await control.hangup(tenant, i)).toBe('already-ended');
    const r = fake.requests[0]!;
    expect([r.method, r.path, r.contentType, r.body]).toEqual([
      'PUT',
      `/v1/calls/${uuid}`,
      'application/json',
      '{"action":"hangup"}',
    ]);
    const claims = fake.jwtClaims[0]!;
    expect(claims.application_id).toBe(creds.vonage.applicationId);
    expect(Object.keys(claims).sort()).toEqual(['application_id', 'exp', 'iat', 'jti']);
    expect((claims.exp as number) - (claims.iat as number)).toBe(300);
    // Every request signs a new token.
    expect(fake.jwtClaims[1]!.jti).not.toBe(claims.jti);
  });

  it('transfers to an inline NCCO connect (phone number without +, or a sip endpoint); uuid also from `uuid`', async () => {
    fake.live.add(uuid);
    const i = info('vonage', 'x', { customParameters: { uuid } });
    expect(await control.transfer(tenant, i, '+447700900000', 'cold')).toBe('done');
    expect(await control.transfer(tenant, i, 'sip:desk@pbx.example.com', 'cold')).toBe('done');
    expect(JSON.parse(fake.requests[0]!.body)).toEqual({
      action: 'transfer',
      destination: {
        type: 'ncco',
        ncco: [{ action: 'connect', endpoint: [{ type: 'phone', number: '447700900000' }] }],
      },
    });
    expect(JSON.parse(fake.requests[1]!.body).destination.ncco[0].endpoint).toEqual([
      { type: 'sip', uri: 'sip:desk@pbx.example.com' },
    ]);
  });

  it('warm with a summary: the phone endpoint onAnswer NCCO (signed) whispers it to the human', async () => {
    fake.live.add(uuid);
    const withUrl = via(
      createPlatformControl({ store, logger: silentLogger, publicUrl: 'https://engine.example.com' }),
    );
    const i = info('vonage', 'x', { customParameters: { call_uuid: uuid } });
    expect(await withUrl.transfer(tenant, i, '+447700900000', 'warm', 'Wants a refund')).toBe('done');
    const endpoint = JSON.parse(fake.requests[0]!.body).destination.ncco[0].endpoint[0];
    expect(Object.keys(endpoint)).toEqual(['type', 'number', 'onAnswer']);
    const url = new URL(endpoint.onAnswer.url as string);
    expect(`${url.origin}${url.pathname}`).toBe('https://engine.example.com/webhook/transfer/vonage');
    const q = Object.fromEntries(url.searchParams) as Record<string, string>;
    expect(verifyTransferHook('vonage', q, privatePem.replace(/\n/g, '\\n'))).toBe('Wants a refund');
  });

  it('without call_uuid / uuid in the websocket headers: unsupported (conversation_uuid is not a leg)', async () => {
    const i = info('vonage', 'vonage-abc-1', { customParameters: { conversation_uuid: 'CON-1' } });
    expect(await control.hangup(tenant, i)).toBe('unsupported');
    expect(await control.transfer(tenant, i, '+15551234567', 'cold')).toBe('unsupported');
    expect(fake.requests).toHaveLength(0);
  });

  it('the JWT verifies with the public key; a bad PEM fails without echoing it', () => {
    const claims = verifyJwt(
      vonageJwt('app-1', privatePem, 1_700_000_000_000),
      createPublicKey(creds.vonage.publicKeyPem),
    );
    expect(claims).toMatchObject({ application_id: 'app-1', iat: 1_700_000_000, exp: 1_700_000_300 });
    expect(() => vonageJwt('app-1', 'not a key')).toThrow();
  });
});

describe('jambonz REST', () => {
  it('hangs up with PUT .../Calls/{callSid} {"call_status":"completed"}, Bearer; 404 is already-ended', async () => {
    const sid = '5e9c1a2b-aaaa-bbbb-cccc-0123456789ab';
    fake.live.add(sid);
    expect(await control.hangup(tenant, info('jambonz', sid))).toBe('done');
    expect(await control.hangup(tenant, info('jambonz', sid))).toBe('already-ended');
    const r = fake.requests[0]!;
    expect([r.method, r.path, r.authorization, r.contentType, r.body]).toEqual([
      'PUT',
      `/v1/Accounts/${creds.jambonz.accountSid}/Calls/${sid}`,
      `Bearer ${creds.jambonz.apiKey}`,
      'application/json',
      '{"call_status":"completed"}',
    ]);
  });

  it('transfers by redirecting call_hook to our signed dial-verb URL; without PUBLIC_URL: unsupported', async () => {
    fake.live.add('sid-1');
    const withUrl = via(
      createPlatformControl({ store, logger: silentLogger, publicUrl: 'https://engine.example.com' }),
    );
    expect(await withUrl.transfer(tenant, info('jambonz', 'sid-1'), 'sip:desk@pbx.example.com', 'cold')).toBe('done');
    const r = fake.requests[0]!;
    expect([r.method, r.path, r.authorization]).toEqual([
      'PUT',
      `/v1/Accounts/${creds.jambonz.accountSid}/Calls/sid-1`,
      `Bearer ${creds.jambonz.apiKey}`,
    ]);
    const body = JSON.parse(r.body) as { call_hook: string };
    expect(Object.keys(body)).toEqual(['call_hook']);
    const q = Object.fromEntries(new URL(body.call_hook).searchParams) as Record<string, string>;
    expect(verifyTransferHook('jambonz', q, creds.jambonz.apiKey)).toBe('sip:desk@pbx.example.com');
    // Signed for jambonz: not valid as a Plivo document.
    expect(verifyTransferHook('plivo', q, creds.jambonz.apiKey)).toBeUndefined();
    expect(fake.live.has('sid-1')).toBe(true);
    expect(await control.transfer(tenant, info('jambonz', 'sid-1'), '+15551234567', 'cold')).toBe('unsupported');
    expect(fake.requests).toHaveLength(1);
  });

  it('a generated call id (no callSid in the metadata) is unsupported', async () => {
    expect(await control.hangup(tenant, info('jambonz', 'jambonz-m1x2-3'))).toBe('unsupported');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('what is not controllable', () => {
  it('protocols without REST control, tenants without the plugin, plugins missing a field: unsupported', async () => {
    expect(await control.hangup(tenant, info('exotel', 'CA1'))).toBe('unsupported');
    expect(await control.transfer(tenant, info('native', 'n1'), '+15551234567', 'cold')).toBe('unsupported');
    const other = (await store.tenants.create({ email: 'none@x' })).id;
    expect(await control.hangup(other, info('twilio', TWILIO_SID))).toBe('unsupported');
    await plugin(other, 'telnyx', { baseUrl: `${fake.url}/telnyx` });
    expect(await control.hangup(other, info('telnyx', TELNYX_ID))).toBe('unsupported');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('errors never leak secrets', () => {
  it('auth failures, 5xx and unreachable hosts name status and code only', async () => {
    const bad = openStore({ file: ':memory:' });
    const t = (await bad.tenants.create({ email: 'leak@x' })).id;
    const cfg = async (id: string, c: Record<string, string>) => {
      await bad.account.purchasePlugin(t, id, 0);
      await bad.account.configurePlugin(t, id, c);
    };
    await cfg('twilio', {
      accountSid: creds.twilio.accountSid,
      authToken: creds.twilio.authToken,
      baseUrl: 'http://127.0.0.1:1',
    });
    await cfg('telnyx', { apiKey: 'KEY_wrong_secret', baseUrl: `${fake.url}/telnyx` });
    await cfg('plivo', { authId: creds.plivo.authId, authToken: 'plivo_wrong_secret', baseUrl: `${fake.url}/plivo` });
    await cfg('vonage', { applicationId: 'other-app', privateKey: privatePem, baseUrl: `${fake.url}/vonage` });
    await cfg('jambonz', {
      accountSid: creds.jambonz.accountSid,
      apiKey: 'jb_wrong_secret',
      baseUrl: `${fake.url}/jambonz`,
    });
    const c = via(createPlatformControl({ store: bad, logger: silentLogger }));
    fake.live.add('u-1');
    const errors: Error[] = [];
    for (const [p, id, extra] of [
      ['twilio', TWILIO_SID, {}],
      ['telnyx', TELNYX_ID, {}],
      ['plivo', 'u-1', {}],
      ['vonage', 'x', { customParameters: { call_uuid: 'u-1' } }],
      ['jambonz', 'u-1', {}],
    ] as const) {
      errors.push((await c.hangup(t, info(p, id, extra)).catch((e: unknown) => e)) as Error);
    }
    expect(errors.map((e) => e.message)).toEqual([
      'twilio hangup failed: unreachable (TypeError)',
      'telnyx hangup failed: HTTP 401 (code 10009)',
      'plivo hangup failed: HTTP 401',
      'vonage hangup failed: HTTP 401',
      'jambonz hangup failed: HTTP 401',
    ]);
    for (const e of errors) {
      const text = `${e.message} ${e.stack} ${JSON.stringify(e)}`;
      for (const s of [...SECRETS, 'KEY_wrong_secret', 'plivo_wrong_secret', 'jb_wrong_secret']) {
        expect(text).not.toContain(s);
      }
    }
    bad.close();
  });
});

describe('egress guard on plugin baseUrl (src/net/egress.ts)', () => {
  it('a baseUrl at cloud metadata is refused once (no retry), naming the policy, nothing sent', async () => {
    const st = openStore({ file: ':memory:' });
    const t = (await st.tenants.create({ email: 'ssrf@x' })).id;
    await st.account.purchasePlugin(t, 'twilio', 0);
    await st.account.configurePlugin(t, 'twilio', { ...creds.twilio, baseUrl: 'http://[::ffff:a9fe:a9fe]/' });
    await st.account.purchasePlugin(t, 'telnyx', 0);
    await st.account.configurePlugin(t, 'telnyx', { ...creds.telnyx, baseUrl: 'http://169.254.169.254/v2' });
    const c = via(createPlatformControl({ store: st, logger: silentLogger }));
    const e1 = (await c.hangup(t, info('twilio', TWILIO_SID)).catch((e: unknown) => e)) as Error;
    const e2 = (await c
      .transfer(t, info('telnyx', TELNYX_ID), '+15550001111', 'cold')
      .catch((e: unknown) => e)) as Error;
    expect(e1).toBeInstanceOf(CallControlError);
    expect(e1.message).toBe('twilio hangup failed: refused by the egress policy (blocked address range)');
    expect(e2.message).toBe('telnyx transfer failed: refused by the egress policy (blocked address range)');
    expect(fake.requests).toHaveLength(0);
    st.close();
  });
});
