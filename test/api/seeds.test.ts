/**
 * The two seeds (/work/shared/seeds: AI4CALL's client API page and CallAI's REST reference), sent as a customer
 * would: each cURL block with its literal headers and body (placeholders such as `ast_xxx` or `+39081...` replaced
 * by this engine's values, the demo credentials created exactly as printed), and each Q&A answer's paths and verbs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ragRoutes } from '../../src/api/routes/rag.js';
import { createChannelDialer } from '../../src/channels/dialer.js';
import { silentLogger } from '../../src/log.js';
import { type KnowledgeBase, openKnowledgeBase } from '../../src/rag/index.js';
import { startTwilioFake } from '../channels/twilio-fake.js';
import { tempDir } from '../rag/helpers.js';
import { type Harness, startHarness } from './harness.js';

const EMAIL = 'demo@ai4call.local';
const KEY = 'portal_demo_key_123456789';
const SEED = { 'x-client-email': EMAIL, 'x-portal-api-key': KEY };
const twilioCreds = { sid: 'ACseedseedseedseedseedseedseedseed', token: 'seed_token' };

let h: Harness;
let kb: KnowledgeBase;
let kbDir: Awaited<ReturnType<typeof tempDir>>;
let twilio: Awaited<ReturnType<typeof startTwilioFake>>;
let ast: { id: string; assistantApiKey: string };

/** A request as curl sends it: the body is the seed's text, byte for byte (whitespace included). */
async function curl(method: string, path: string, headers: Record<string, string>, body?: string) {
  const res = await fetch(h.url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text.startsWith('{') ? JSON.parse(text) : text };
}

beforeAll(async () => {
  twilio = await startTwilioFake(twilioCreds);
  kbDir = await tempDir();
  kb = await openKnowledgeBase({ uri: kbDir.dir, logger: silentLogger });
  h = await startHarness(
    (store) => ({
      dialer: createChannelDialer({ store, publicUrl: 'https://engine.example.com' }),
      extraRoutes: [ragRoutes(kb)],
      knowledge: kb,
    }),
    { PUBLIC_URL: 'https://engine.example.com' },
  );
  // The seed's demo customer, with exactly the printed email and portalApiKey.
  const t = await h.store.tenants.create({ email: EMAIL });
  await h.store.apiKeys.create(t.id, { label: 'production', secret: KEY });
  await h.store.account.addCredit(t.id, 10_000, 'seed demo');
  ast = (await h.call('POST', '/api/v1/assistants', { headers: SEED, body: { name: 'Seed agent' } })).body.data;
  await h.call('POST', '/api/v1/account/plugins/purchase', { headers: SEED, body: { pluginId: 'twilio' } });
  await h.call('PUT', '/api/v1/account/plugins/configuration/twilio', {
    headers: SEED,
    body: {
      accountSid: twilioCreds.sid,
      authToken: twilioCreds.token,
      fromNumber: '+390200000000',
      baseUrl: twilio.url,
    },
  });
});
afterAll(async () => {
  await h.close();
  await kb.close();
  await kbDir.cleanup();
  await twilio.close();
});

describe('AI4CALL cURL examples', () => {
  it('1. Portal login', async () => {
    const r = await curl(
      'POST',
      '/api/v1/auth/portal/login',
      { 'Content-Type': 'application/json' },
      `{
    "email": "demo@ai4call.local",
    "portalApiKey": "portal_demo_key_123456789"
  }`,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ status: 'success', data: { email: EMAIL } });
    const wrong = await curl(
      'POST',
      '/api/v1/auth/portal/login',
      { 'Content-Type': 'application/json' },
      '{"email":"demo@ai4call.local","portalApiKey":"portal_demo_key_000000000"}',
    );
    expect(wrong.status).toBe(401);
  });

  it("2. List the customer's assistants", async () => {
    const r = await curl('GET', '/api/v1/assistants', {
      'x-client-email': 'demo@ai4call.local',
      'x-portal-api-key': 'portal_demo_key_123456789',
    });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('success');
    expect(r.body.data.rows.map((a: { assistantApiKey: string }) => a.assistantApiKey)).toEqual([ast.assistantApiKey]);
    expect((await curl('GET', '/api/v1/assistants', {})).status).toBe(401);
  });

  it('3. Trigger an outbound call', async () => {
    twilio.requests.length = 0;
    const r = await curl(
      'POST',
      '/webhook/outbound_call',
      {
        'x-client-email': 'demo@ai4call.local',
        'x-portal-api-key': 'portal_demo_key_123456789',
        'Content-Type': 'application/json',
      },
      `{
    "assistantApiKey": "${ast.assistantApiKey}",
    "to": "+390815551234",
    "from": "+390212345678",
    "metadata": { "lead_id": "123" }
  }`,
    );
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'success', data: { call_id: expect.stringMatching(/^c_/), status: 'queued' } });
    const call = await settled(r.body.data.call_id);
    expect(call).toMatchObject({ to: '+390815551234', from: '+390212345678', metadata: { lead_id: '123' } });
    expect(twilio.requests[0]!.form).toMatchObject({ To: '+390815551234', From: '+390212345678' });
    // The seed's placeholders themselves are refused at once, naming the field.
    const literal = await curl(
      'POST',
      '/webhook/outbound_call',
      { ...SEED, 'Content-Type': 'application/json' },
      `{"assistantApiKey":"${ast.assistantApiKey}","to":"+39081...","from":"+3902...","metadata":{"lead_id":"123"}}`,
    );
    expect(literal.status).toBe(422);
    expect(literal.body.error).toMatchObject({ code: 'INVALID_PHONE_NUMBER', details: [{ field: 'to' }] });
    const unknown = await h.call('POST', '/webhook/outbound_call', {
      headers: SEED,
      body: { assistantApiKey: 'ast_xxx', to: '+390815551234' },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('ASSISTANT_NOT_FOUND');
  });
});

async function settled(id: string) {
  for (;;) {
    const r = await h.call('GET', `/api/v1/calls/${id}`, { headers: SEED });
    if (r.body.data.providerCallId || r.body.data.status !== 'queued') return r.body.data;
    await new Promise((res) => setTimeout(res, 10));
  }
}

describe('CallAI REST reference', () => {
  it('Example Request at the example URL /v1/calls/initiate and at /api/v1/calls/initiate', async () => {
    for (const path of ['/v1/calls/initiate', '/api/v1/calls/initiate']) {
      const r = await curl(
        'POST',
        path,
        { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
        `{ "agent_id": "${ast.id}", "to_number": "+2348012345678", "metadata": { "customer_name": "Adebayo", "order_status": "Shipped" } }`,
      );
      expect(r.status).toBe(200);
      // Example Response: { "status": "success", "data": { "call_id": "c_54fa89d1", "status": "queued" } }
      expect(r.body).toEqual({ status: 'success', data: { call_id: expect.stringMatching(/^c_/), status: 'queued' } });
      const call = await settled(r.body.data.call_id);
      expect(call.metadata).toEqual({ customer_name: 'Adebayo', order_status: 'Shipped' });
    }
  });

  it('to_number is E.164: 12345, +999 and +1555 are refused with 422 naming the field', async () => {
    for (const n of ['12345', '+999', '+1555', '+39081...', 'tel:+2348012345678']) {
      const r = await h.call('POST', '/api/v1/calls/initiate', {
        headers: { authorization: `Bearer ${KEY}` },
        body: { agent_id: ast.id, to_number: n },
      });
      expect(r.status, n).toBe(422);
      expect(r.body.error.code).toBe('INVALID_PHONE_NUMBER');
      expect(r.body.error.details[0].field).toBe('to_number');
      expect(r.body.error.message).toContain('to_number');
    }
  });

  it('a missing or wrong API key is refused', async () => {
    const r = await curl('POST', '/v1/calls/initiate', { Authorization: 'Bearer YOUR_API_KEY' }, '{}');
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ status: 'error', error: { code: 'UNAUTHORIZED' } });
  });

  it('Rate limits: 100 requests per minute per IP by default, then 429 Too Many Requests', async () => {
    const limited = await startHarness({}, { RATE_LIMIT_PER_MINUTE: '100' });
    try {
      // All at once: the bucket holds 100 and refills 100 per minute, so a burst of 110 meets the limit (how many
      // pass depends on the refill during the burst: not asserted, the machine is noisy).
      const all = await Promise.all(
        Array.from({ length: 110 }, () => fetch(`${limited.url}/api/v1/assistants`, { headers: limited.a.h })),
      );
      const refused = all.filter((r) => r.status === 429);
      expect(refused.length).toBeGreaterThan(0);
      expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
      const bodies = (await Promise.all(all.map((r) => r.json()))) as Array<{ error?: { code: string } }>;
      expect(bodies[all.indexOf(refused[0]!)]!.error?.code).toBe('RATE_LIMITED');
    } finally {
      await limited.close();
    }
  });
});

describe('AI4CALL questions and answers', () => {
  const k = () => ast.assistantApiKey;

  it('single-assistant operations take the assistantApiKey in the path, with the session headers', async () => {
    expect((await h.call('GET', `/api/v1/assistants/${k()}`, { headers: SEED })).body.data.id).toBe(ast.id);
    expect((await h.call('GET', `/api/v1/assistants/${k()}`)).status).toBe(401);
  });

  it('GET/POST /api/v1/assistants list and create; GET /api/v1/assistants/{assistantApiKey} is the detail', async () => {
    const c = await h.call('POST', '/api/v1/assistants', { headers: SEED, body: { name: 'Second' } });
    expect(c.status).toBe(201);
    expect(c.body.data).toMatchObject({
      id: expect.stringMatching(/^ag_/),
      assistantApiKey: expect.stringMatching(/^ast_/),
    });
    const d = await h.call('GET', `/api/v1/assistants/${c.body.data.assistantApiKey}`, { headers: SEED });
    expect(d.body.data.config.name).toBe('Second');
    await h.call('DELETE', `/api/v1/assistants/${c.body.data.assistantApiKey}`, { headers: SEED });
  });

  it('GET and PATCH /api/v1/assistants/{assistantApiKey}/prompt edit prompt and first message', async () => {
    const p = await h.call('PATCH', `/api/v1/assistants/${k()}/prompt`, {
      headers: SEED,
      body: { prompt: 'You confirm appointments.', firstMessage: 'Hello from AI4CALL' },
    });
    expect(p.status).toBe(200);
    const g = await h.call('GET', `/api/v1/assistants/${k()}/prompt`, { headers: SEED });
    expect(g.body.data).toMatchObject({ prompt: 'You confirm appointments.', firstMessage: 'Hello from AI4CALL' });
  });

  it('catalog endpoints per provider/voice/model and PATCH runtime/{tts|asr|llm|dtmf}', async () => {
    for (const kind of ['tts', 'asr', 'llm']) {
      const p = await h.call('GET', `/api/v1/catalog/providers/${kind}`, { headers: SEED });
      expect(p.body.data.length, kind).toBeGreaterThan(0);
      const m = await h.call('GET', `/api/v1/catalog/providers/${kind}/models`, { headers: SEED });
      expect(m.status, kind).toBe(200);
    }
    const voices = await h.call('GET', '/api/v1/catalog/providers/tts/voices', { headers: SEED });
    expect(voices.body.data.some((v: { provider: string }) => v.provider === 'elevenlabs')).toBe(true);
    const asr = await h.call('GET', `/api/v1/catalog/assistants/${k()}/asr/models`, { headers: SEED });
    expect(asr.body.data.length).toBeGreaterThan(0);
    const patches: Record<string, object> = {
      tts: { provider: 'offline' },
      asr: { provider: 'offline' },
      llm: { provider: 'rules' },
      dtmf: { enabled: true },
      settings: { silenceTimeoutMs: 8000 },
    };
    for (const [block, body] of Object.entries(patches)) {
      const r = await h.call('PATCH', `/api/v1/assistants/${k()}/runtime/${block}`, { headers: SEED, body });
      expect(r.status, `${block}: ${JSON.stringify(r.body)}`).toBe(200);
      expect(r.body.data).toMatchObject(body);
    }
  });

  it('RAG under /api/v1/catalog/rag/: list, upload, delete, estimate; PATCH runtime/rag binds it', async () => {
    const up = await h.call('POST', '/api/v1/catalog/rag/collections/hours/documents', {
      headers: SEED,
      body: { name: 'hours.md', text: '# Hours\nWe are open Monday to Friday, 9 to 17.' },
    });
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    const list = await h.call('GET', '/api/v1/catalog/rag/collections', { headers: SEED });
    expect(list.body.data).toEqual([{ name: 'hours', documents: 1, chunks: expect.any(Number) }]);
    const est = await h.call('POST', '/api/v1/catalog/rag/documents/estimate', {
      headers: SEED,
      body: { name: 'x.txt', text: 'Some text to index.' },
    });
    expect(est.body.data.characters).toBe(19);
    const bind = await h.call('PATCH', `/api/v1/assistants/${k()}/runtime/rag`, {
      headers: SEED,
      body: { collections: ['hours'] },
    });
    expect(bind.status).toBe(200);
    const docs = await h.call('GET', '/api/v1/catalog/rag/collections/hours/documents', { headers: SEED });
    expect(docs.body.data.map((d: { id: string }) => d.id)).toEqual([up.body.data.id]);
    const del = await h.call('DELETE', `/api/v1/catalog/rag/collections/hours/documents/${up.body.data.id}`, {
      headers: SEED,
    });
    expect(del.body.data.deleted).toBe(true);
  });

  it('GET /api/v1/catalog/tools, /catalog/assistants/{key}/tools and PATCH runtime/tools', async () => {
    const all = await h.call('GET', '/api/v1/catalog/tools', { headers: SEED });
    expect(all.body.data.map((t: { name: string }) => t.name)).toContain('end_call');
    const r = await h.call('PATCH', `/api/v1/assistants/${k()}/runtime/tools`, {
      headers: SEED,
      body: { builtins: ['end_call'] },
    });
    expect(r.status).toBe(200);
    const mine = await h.call('GET', `/api/v1/catalog/assistants/${k()}/tools`, { headers: SEED });
    expect(mine.body.data.map((t: { name: string }) => t.name)).toEqual(['end_call']);
  });

  it('runtime/precall/number-validation and mcp-config; /catalog/assistants/{key}/pre-call lists them', async () => {
    const nv = await h.call('PATCH', `/api/v1/assistants/${k()}/runtime/precall/number-validation`, {
      headers: SEED,
      body: { enabled: true, allowedPrefixes: ['+39', '+234'] },
    });
    expect(nv.status).toBe(200);
    const mcp = await h.call('PATCH', `/api/v1/assistants/${k()}/runtime/precall/mcp-config`, {
      headers: SEED,
      body: { mcpServers: [] },
    });
    expect(mcp.status).toBe(200);
    const pre = await h.call('GET', `/api/v1/catalog/assistants/${k()}/pre-call`, { headers: SEED });
    expect(pre.body.data).toMatchObject({ numberValidation: { enabled: true }, mcpServers: [] });
  });

  it('PATCH runtime/hangup (transfer), runtime/hangup/save-conversation and runtime/hangup/schema; /catalog/hangup', async () => {
    const hu = await h.call('PATCH', `/api/v1/assistants/${k()}/runtime/hangup`, {
      headers: SEED,
      body: { transferTargets: [{ name: 'desk', number: '+390212345679' }] },
    });
    expect(hu.status).toBe(200);
    const sc = await h.call('PATCH', `/api/v1/assistants/${k()}/runtime/hangup/save-conversation`, {
      headers: SEED,
      body: { enabled: true },
    });
    expect(sc.body.data.enabled).toBe(true);
    const schema = { type: 'object', properties: { outcome: { type: 'string' } } };
    const so = await h.call('PATCH', `/api/v1/assistants/${k()}/runtime/hangup/schema`, {
      headers: SEED,
      body: schema,
    });
    expect(so.body.data).toEqual(schema);
    const cat = await h.call('GET', '/api/v1/catalog/hangup', { headers: SEED });
    expect(cat.body.data.actions.map((a: { id: string }) => a.id)).toContain('transfer_call');
  });

  it('POST /webhook/outbound_call_pbx: the assistant, the number to dial and custom metadata', async () => {
    // No PBX plugin yet: refused at once with a clear code, nothing queued.
    const none = await h.call('POST', '/webhook/outbound_call_pbx', {
      headers: SEED,
      body: { assistantApiKey: k(), to: '+390815551234', metadata: { ticket: 'T-9' } },
    });
    expect(none.status, JSON.stringify(none.body)).toBe(422);
    expect(none.body.error.code).toBe('CHANNEL_NOT_CONFIGURED');
    await h.call('PATCH', '/api/v1/account/plugins/purchase', { headers: SEED, body: { pluginId: 'asterisk' } });
    await h.call('PATCH', '/api/v1/account/plugins/configuration', {
      headers: SEED,
      body: {
        pluginId: 'asterisk',
        config: {
          ariUrl: 'http://127.0.0.1:9',
          username: 'u',
          password: 'p',
          endpoint: 'PJSIP/{number}@trunk',
          context: 'ai',
        },
      },
    });
    const r = await h.call('POST', '/webhook/outbound_call_pbx', {
      headers: SEED,
      body: { assistantApiKey: k(), to: '+390815551234', metadata: { ticket: 'T-9' } },
    });
    expect(r.status).toBe(200);
    expect(r.body.data.status).toBe('queued');
    const call = (await h.call('GET', `/api/v1/calls/${r.body.data.call_id}`, { headers: SEED })).body.data;
    expect(call).toMatchObject({ protocol: 'asterisk', to: '+390815551234', metadata: { ticket: 'T-9' } });
  });

  it('/api/v1/account/analytics/: calls, calls-outbound, recharges, rag, sms, tool-responses, pre-call', async () => {
    for (const name of ['calls', 'calls-outbound', 'recharges', 'rag', 'sms', 'tool-responses', 'pre-call']) {
      const r = await h.call('GET', `/api/v1/account/analytics/${name}`, { headers: SEED });
      expect(r.status, name).toBe(200);
      expect(Array.isArray(r.body.data.rows), name).toBe(true);
    }
    const out = await h.call('GET', '/api/v1/account/analytics/calls-outbound', { headers: SEED });
    expect(out.body.data.rows.length).toBeGreaterThan(0);
  });

  it('GET/PATCH /api/v1/account/allowed-ips reads and updates the whitelist', async () => {
    const p = await h.call('PATCH', '/api/v1/account/allowed-ips', {
      headers: SEED,
      body: { entries: ['127.0.0.1', '10.0.0.0/8'] },
    });
    expect(p.status).toBe(200);
    expect((await h.call('GET', '/api/v1/account/allowed-ips', { headers: SEED })).body.data.entries).toEqual([
      '127.0.0.1',
      '10.0.0.0/8',
    ]);
    await h.call('PATCH', '/api/v1/account/allowed-ips', { headers: SEED, body: { entries: [] } });
  });

  it('GET/PATCH /api/v1/account/call-limits reads and updates concurrent and periodic limits', async () => {
    const p = await h.call('PATCH', '/api/v1/account/call-limits', { headers: SEED, body: { maxConcurrent: 5 } });
    expect(p.body.data).toEqual({ maxConcurrent: 5 });
    const q = await h.call('PATCH', '/api/v1/account/call-limits', { headers: SEED, body: { maxPerDay: 100 } });
    expect(q.body.data).toEqual({ maxConcurrent: 5, maxPerDay: 100 });
    const g = await h.call('GET', '/api/v1/account/call-limits', { headers: SEED });
    expect(g.body.data.limits).toEqual({ maxConcurrent: 5, maxPerDay: 100 });
    const cleared = await h.call('PATCH', '/api/v1/account/call-limits', {
      headers: SEED,
      body: { maxConcurrent: null, maxPerDay: null },
    });
    expect(cleared.body.data).toEqual({});
  });

  it('plugins: available, instances, configuration, PATCH purchase', async () => {
    const av = await h.call('GET', '/api/v1/account/plugins/available', { headers: SEED });
    expect(av.body.data.map((p: { id: string }) => p.id)).toContain('freeswitch');
    const buy = await h.call('PATCH', '/api/v1/account/plugins/purchase', {
      headers: SEED,
      body: { pluginId: 'freeswitch' },
    });
    expect(buy.status).toBe(200);
    expect(buy.body.data.instance).toMatchObject({ pluginId: 'freeswitch', status: 'active' });
    const inst = await h.call('GET', '/api/v1/account/plugins/instances', { headers: SEED });
    expect(inst.body.data.map((p: { pluginId: string }) => p.pluginId)).toContain('freeswitch');
    const cfg = await h.call('PATCH', '/api/v1/account/plugins/configuration', {
      headers: SEED,
      body: { pluginId: 'freeswitch', config: { host: '127.0.0.1', password: 'ClueCon' } },
    });
    expect(cfg.status).toBe(200);
    expect(cfg.body.data.config).toEqual({ host: '127.0.0.1', password: '********' });
    const all = await h.call('GET', '/api/v1/account/plugins/configuration', { headers: SEED });
    expect(all.body.data.find((p: { pluginId: string }) => p.pluginId === 'freeswitch').config.password).toBe(
      '********',
    );
    const unknown = await h.call('PATCH', '/api/v1/account/plugins/configuration', {
      headers: SEED,
      body: { pluginId: 'freeswitch', config: { shell: 'rm -rf /' } },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details[0].field).toBe('shell');
  });

  it('GET /health needs no authentication', async () => {
    const r = await curl('GET', '/health', {});
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ok');
  });
});
