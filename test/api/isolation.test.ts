import type { OpenAPIV3 } from 'openapi-types';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createChannelDialer } from '../../src/channels/dialer.js';
import { createWhatsAppSender } from '../../src/channels/whatsapp.js';
import { type Harness, startHarness } from './harness.js';

/**
 * Tenant isolation, tried on every route of the OpenAPI document: tenant B, holding tenant A's identifiers, can
 * neither read nor change anything of A. Also: every business route refuses a request without credentials.
 */
let h: Harness;
let doc: OpenAPIV3.Document;
const A: Record<string, string> = {};

// Public, or authenticated by a carrier signature instead of portal credentials (tested in calls.test.ts).
const PUBLIC = new Set([
  '/health',
  '/api/v1/auth/portal/login',
  '/webhook/twilio/status/{callId}',
  // Signed by Meta with the tenant's WhatsApp app secret (tested in whatsapp.test.ts).
  '/webhook/whatsapp/{tenantId}',
  // Signed with the tenant's plugin secret (tested in transfer-hook.test.ts).
  '/webhook/transfer/{platform}',
  // Authenticated by the link's own signature (tested in recording-link.test.ts).
  '/recordings/{file}',
]);
const isAdmin = (p: string) => p.startsWith('/api/v1/admin/');

beforeAll(async () => {
  h = await startHarness((store) => ({
    dialer: createChannelDialer({ store, publicUrl: 'https://e.example' }),
    whatsapp: createWhatsAppSender({ store }),
  }));
  doc = (await h.call('GET', '/openapi.json')).body;
  const ast = (
    await h.call('POST', '/api/v1/assistants', {
      headers: h.a.h,
      body: { name: 'A-secret-assistant', prompt: 'A prompt' },
    })
  ).body.data;
  A.assistantId = ast.id;
  A.assistantApiKey = ast.assistantApiKey;
  const call = await h.store.calls.create({
    tenantId: h.a.id,
    assistantId: ast.id,
    direction: 'inbound',
    from: '+15550009999',
  });
  await h.store.calls.update(call.id, { recordingPath: 'recordings/a.wav' });
  A.callId = call.id;
  const wh = (
    await h.call('POST', '/api/v1/webhooks', {
      headers: h.a.h,
      body: { url: 'http://127.0.0.1:9/a', events: ['call.ended'] },
    })
  ).body.data;
  A.webhookId = wh.id;
  A.keyId = h.a.keyId;
  await h.call('PUT', '/api/v1/account/number-routing', {
    headers: h.a.h,
    body: { number: '+15550001234', assistantApiKey: ast.assistantApiKey },
  });
  A.number = '+15550001234';
  await h.call('POST', '/api/v1/account/plugins/purchase', { headers: h.a.h, body: { pluginId: 'twilio' } });
  await h.call('PUT', '/api/v1/account/plugins/configuration/twilio', {
    headers: h.a.h,
    body: { accountSid: 'AC-A-sid', fromNumber: '+15550007777' },
  });
  await h.store.analytics.record(h.a.id, 'rag', { query: 'A-secret-query' });
});
afterAll(async () => h.close());

function bodyFor(method: string, path: string): unknown {
  if (method === 'get' || method === 'delete') return undefined;
  if (path.endsWith('/runtime/precall/mcp-config')) return { mcpServers: [] };
  if (path.includes('/runtime/') || path.endsWith('/prompt')) return {};
  const table: Record<string, unknown> = {
    'patch /api/v1/assistants/{assistantApiKey}': { name: 'hijacked' },
    'post /api/v1/assistants': { name: 'B own' },
    'post /api/v1/calls/initiate': { agent_id: A.assistantId, to_number: '+15551110000' },
    'post /webhook/outbound_call': { assistantApiKey: A.assistantApiKey, phoneNumber: '+15551110000' },
    'post /webhook/outbound_call_pbx': { assistantApiKey: A.assistantApiKey, destination: '100', pbx: 'asterisk' },
    'put /api/v1/account/number-routing': { number: A.number, assistantApiKey: A.assistantApiKey },
    'patch /api/v1/webhooks/{id}': { enabled: false },
    'post /api/v1/webhooks': { url: 'http://127.0.0.1:9/b', events: ['call.started'] },
    'put /api/v1/account/plugins/configuration/{pluginId}': { fromNumber: '+16660000000' },
    'post /api/v1/account/plugins/purchase': { pluginId: 'mcp' },
    'put /api/v1/account/allowed-ips': { entries: [] },
    'put /api/v1/account/call-limits': {},
    'post /api/v1/account/api-keys': { label: 'b' },
    'post /api/v1/whatsapp/send': {
      agent_id: A.assistantId,
      to_number: '+15551110000',
      message_type: 'text',
      content: 'x',
    },
  };
  return table[`${method} ${path}`] ?? {};
}

function fill(path: string): string {
  const values: Record<string, string> = {
    assistantApiKey: A.assistantApiKey!,
    callId: A.callId!,
    id: A.webhookId!,
    keyId: A.keyId!,
    number: encodeURIComponent(A.number!),
    pluginId: 'twilio',
    kind: 'tts',
    tenantId: h.a.id,
  };
  return path.replace(/\{(\w+)\}/g, (_m, n: string) => {
    if (!(n in values)) throw new Error(`no value for path parameter ${n} in ${path}`);
    return values[n]!;
  });
}

function operations(): Array<[string, string]> {
  const ops: Array<[string, string]> = [];
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of ['get', 'post', 'put', 'patch', 'delete'] as const) if (item?.[m]) ops.push([m, p]);
  }
  // Deletions last, so a wrongly successful one could not hide other checks.
  return ops.sort((x, y) => Number(x[0] === 'delete') - Number(y[0] === 'delete'));
}

it('tenant B can read or change nothing of tenant A, on every route', async () => {
  const secrets = [
    A.assistantId!,
    A.assistantApiKey!,
    A.callId!,
    A.webhookId!,
    A.keyId!,
    'A-secret-assistant',
    'A-secret-query',
    'AC-A-sid',
    h.a.id,
    h.a.email,
  ];
  const checked: string[] = [];
  for (const [method, path] of operations()) {
    if (PUBLIC.has(path) || isAdmin(path)) continue;
    const url = fill(path);
    const body = bodyFor(method, path);
    const r = await h.call(method.toUpperCase(), url, { headers: h.b.h, ...(body !== undefined ? { body } : {}) });
    const text = JSON.stringify(r.body);
    for (const s of secrets)
      expect(text.includes(s), `${method} ${path} leaked ${s}: ${text.slice(0, 200)}`).toBe(false);
    // A route naming one of A's resources must refuse (4xx); the plugin routes name B's own (unpurchased) instance.
    const namesA =
      /\{(assistantApiKey|callId|id|keyId|number)\}/.test(path) ||
      ([
        '/api/v1/calls/initiate',
        '/webhook/outbound_call',
        '/webhook/outbound_call_pbx',
        '/api/v1/account/number-routing',
      ].includes(path) &&
        method !== 'get');
    if (namesA) expect(r.status, `${method} ${path} -> ${r.status}`).toBeGreaterThanOrEqual(400);
    expect(r.status, `${method} ${path}`).toBeLessThan(500);
    checked.push(`${method} ${path}`);
  }
  expect(checked.length).toBeGreaterThan(60);

  // A's state is intact.
  const a = await h.call('GET', `/api/v1/assistants/${A.assistantApiKey}`, { headers: h.a.h });
  expect(a.body.data).toMatchObject({ version: 1, config: { name: 'A-secret-assistant', prompt: 'A prompt' } });
  expect((await h.call('GET', `/api/v1/webhooks/${A.webhookId}`, { headers: h.a.h })).body.data.enabled).toBe(true);
  expect((await h.call('GET', `/api/v1/calls/${A.callId}`, { headers: h.a.h })).status).toBe(200);
  expect((await h.store.numberRouting.resolve(A.number!))?.tenantId).toBe(h.a.id);
  expect((await h.store.account.getPlugin(h.a.id, 'twilio'))?.config).toEqual({
    accountSid: 'AC-A-sid',
    fromNumber: '+15550007777',
  });
  expect((await h.call('GET', '/api/v1/assistants', { headers: h.a.h })).status).toBe(200);
  // B's outbound attempts with A's assistant created no call anywhere.
  expect((await h.store.calls.list(h.b.id, {})).rows).toEqual([]);
  expect((await h.store.calls.list(h.a.id, {})).rows.map((c) => c.id)).toEqual([A.callId]);
});

it('every business route refuses a request without credentials (401)', async () => {
  let n = 0;
  for (const [method, path] of operations()) {
    if (PUBLIC.has(path)) continue;
    const body = bodyFor(method, path);
    const r = await h.call(method.toUpperCase(), fill(path), body !== undefined ? { body } : {});
    expect(r.status, `${method} ${path}`).toBe(401);
    expect(r.body.status).toBe('error');
    n++;
  }
  expect(n).toBeGreaterThan(60);
});
