import type { IncomingHttpHeaders } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authorizeStream } from '../../src/api/media-access.js';
import type { Assistant } from '../../src/assistant.js';
import { loadConfig } from '../../src/config.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { ResolveRequest } from '../../src/telephony/gateway.js';
import { twilioSignature } from '../../src/telephony/twilio-signature.js';

/**
 * Who may open a media stream (issue 11, finding 6), against a real store: keys only (never ids), platform
 * signatures on whatever path the platform's request arrives, routed numbers only when signed or from an allowed IP,
 * and the native protocol's optional portal key.
 */
let store: Store;
let tenant: string;
let other: string;
let portalKey: string;
let otherPortalKey: string;
let ast: Assistant;
const HOST = 'engine.example.com';
const config = loadConfig({ DATA_DIR: '/tmp/unused' });
const strictNative = loadConfig({ DATA_DIR: '/tmp/unused', NATIVE_REQUIRE_PORTAL_KEY: 'true' });

beforeEach(async () => {
  store = openStore({ file: ':memory:' });
  tenant = (await store.tenants.create({ email: 'a@example.com' })).id;
  other = (await store.tenants.create({ email: 'b@example.com' })).id;
  portalKey = (await store.apiKeys.create(tenant)).secret;
  otherPortalKey = (await store.apiKeys.create(other)).secret;
  ast = await store.assistants.create(tenant, {});
});
afterEach(async () => {
  await store.close();
});

function req(p: Partial<ResolveRequest> & { path: string }): ResolveRequest {
  const protocol = /^\/media\/([a-z]+)/.exec(p.path)![1]!;
  return {
    protocol,
    customParameters: {},
    remoteAddress: '198.51.100.7',
    url: p.path,
    ...p,
    headers: { host: HOST, ...(p.headers ?? {}) } as IncomingHttpHeaders,
  };
}

async function configure(pluginId: string, cfg: Record<string, unknown>, tenantId = tenant): Promise<void> {
  expect(await store.account.purchasePlugin(tenantId, pluginId, 0)).toBe('ok');
  await store.account.configurePlugin(tenantId, pluginId, cfg);
}

const code = (r: Awaited<ReturnType<typeof authorizeStream>>) => (r.ok ? 'ok' : `${r.code} ${r.reason}`);

describe('media credentials', () => {
  it('only the assistant API key opens a stream, never the ag_ id', async () => {
    expect(code(await authorizeStream(store, config, req({ path: `/media/twilio/${ast.id}`, pathKey: ast.id })))).toBe(
      '4003 assistant key wrong or revoked',
    );
    expect(code(await authorizeStream(store, config, req({ path: '/media/native', paramKey: ast.id })))).toBe(
      '4003 assistant key wrong or revoked',
    );
    const k = ast.assistantApiKey;
    expect(code(await authorizeStream(store, config, req({ path: `/media/twilio/${k}`, pathKey: k })))).toBe('ok');
  });
});

describe('X-Twilio-Signature', () => {
  const TOKEN = 'twilio-auth-token-123';
  const sign = (path: string, scheme = 'wss', token = TOKEN) => ({
    'x-twilio-signature': twilioSignature(token, `${scheme}://${HOST}${path}`),
  });

  it('with an auth token configured: the wss:// and https:// readings pass; a bad or missing one is 4003', async () => {
    await configure('twilio', { accountSid: 'AC1', authToken: TOKEN, fromNumber: '+15550100' });
    const path = `/media/twilio/${ast.assistantApiKey}`;
    const r = (headers: Record<string, string>) =>
      authorizeStream(store, config, req({ path, pathKey: ast.assistantApiKey, headers }));
    expect(code(await r(sign(path)))).toBe('ok');
    expect(code(await r(sign(path, 'https')))).toBe('ok');
    expect(code(await r(sign(path, 'wss', 'other-token')))).toBe('4003 invalid X-Twilio-Signature');
    expect(code(await r({}))).toBe('4003 invalid X-Twilio-Signature');
  });

  it('is checked on any path a Twilio request arrives on, not only /media/twilio', async () => {
    await configure('twilio', { accountSid: 'AC1', authToken: TOKEN, fromNumber: '+15550100' });
    const path = `/media/plivo/${ast.assistantApiKey}`;
    const forged = { 'x-twilio-signature': twilioSignature('guess', `wss://${HOST}${path}`) };
    const r = (headers: Record<string, string>) =>
      authorizeStream(store, config, req({ path, pathKey: ast.assistantApiKey, headers }));
    expect(code(await r(forged))).toBe('4003 invalid X-Twilio-Signature');
    expect(code(await r(sign(path)))).toBe('ok');
  });
});

describe('Telnyx stream token, set through the plugin configuration', () => {
  it('when configured, the x-telnyx-streaming-auth-token header must match', async () => {
    await configure('telnyx', { apiKey: 'KEY1', streamAuthToken: 's3cret' });
    const path = `/media/telnyx/${ast.assistantApiKey}`;
    const r = (headers: Record<string, string>) =>
      authorizeStream(store, config, req({ path, pathKey: ast.assistantApiKey, headers }));
    expect(code(await r({ 'x-telnyx-streaming-auth-token': 's3cret' }))).toBe('ok');
    expect(code(await r({ 'x-telnyx-streaming-auth-token': 's3cre' }))).toBe(
      '4003 invalid x-telnyx-streaming-auth-token',
    );
    expect(code(await r({}))).toBe('4003 invalid x-telnyx-streaming-auth-token');
  });
});

describe('streams found by number routing alone', () => {
  const routed = '4003 routed by number without a key: needs the platform signature or an allowlisted source IP';

  beforeEach(async () => {
    await store.numberRouting.set(tenant, '+15550100', ast.id);
  });

  it('are refused when unsigned and not from an allowlisted address (no Twilio auth token configured)', async () => {
    for (const path of ['/media/twilio', '/media/plivo', '/media/vonage', '/media/telnyx']) {
      expect(code(await authorizeStream(store, config, req({ path, to: '+15550100' }))), path).toBe(routed);
    }
  });

  it('pass from an address in the tenant allowlist', async () => {
    await store.account.setAllowedIps(tenant, ['198.51.100.0/24']);
    expect(code(await authorizeStream(store, config, req({ path: '/media/vonage', to: '+15550100' })))).toBe('ok');
    const outside = req({ path: '/media/vonage', to: '+15550100', remoteAddress: '203.0.113.1' });
    expect(code(await authorizeStream(store, config, outside))).toBe('4003 not allowed from this IP address');
  });

  it('pass with a valid platform signature', async () => {
    await configure('twilio', { accountSid: 'AC1', authToken: 'tok', fromNumber: '+15550100' });
    const path = '/media/twilio';
    const headers = { 'x-twilio-signature': twilioSignature('tok', `wss://${HOST}${path}`) };
    expect(code(await authorizeStream(store, config, req({ path, to: '+15550100', headers })))).toBe('ok');
    expect(code(await authorizeStream(store, config, req({ path, to: '+15550100' })))).toBe(
      '4003 invalid X-Twilio-Signature',
    );
  });
});

describe('native protocol portal key', () => {
  const path = () => `/media/native/${ast.assistantApiKey}`;
  const r = (cfg: typeof config, headers: Record<string, string>) =>
    authorizeStream(store, cfg, req({ path: path(), pathKey: ast.assistantApiKey, headers }));

  it('NATIVE_REQUIRE_PORTAL_KEY: the tenant own portal key is required on the upgrade', async () => {
    const refused = '4003 portal key missing or not of the assistant tenant';
    expect(code(await r(strictNative, {}))).toBe(refused);
    expect(code(await r(strictNative, { authorization: `Bearer ${otherPortalKey}` }))).toBe(refused);
    expect(code(await r(strictNative, { authorization: `Bearer ${portalKey}` }))).toBe('ok');
    expect(code(await r(strictNative, { 'x-portal-api-key': portalKey }))).toBe('ok');
  });

  it('without the option a key is optional, but one that is sent is checked', async () => {
    expect(code(await r(config, {}))).toBe('ok');
    expect(code(await r(config, { authorization: `Bearer ${otherPortalKey}` }))).toBe(
      '4003 portal key missing or not of the assistant tenant',
    );
  });
});
