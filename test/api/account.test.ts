import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
let ast: { id: string; assistantApiKey: string };
beforeAll(async () => {
  h = await startHarness();
  ast = (
    await h.call('POST', '/api/v1/assistants', {
      headers: h.a.h,
      body: {
        asr: { provider: 'deepgram' },
        tools: {
          builtins: ['end_call'],
          http: [{ type: 'http', name: 'crm', description: 'Look up', url: 'http://127.0.0.1:9/x' }],
        },
      },
    })
  ).body.data;
});
afterAll(async () => h.close());

describe('catalog', () => {
  it('serves providers, models, voices, tools, hangup options and per-assistant views', async () => {
    const g = (p: string) => h.call('GET', p, { headers: h.a.h });
    expect((await g('/api/v1/catalog/providers/tts')).body.data.map((p: { id: string }) => p.id)).toEqual(
      expect.arrayContaining(['offline', 'elevenlabs']),
    );
    expect((await g('/api/v1/catalog/providers/asr')).body.data.map((p: { id: string }) => p.id)).toContain('deepgram');
    expect((await g('/api/v1/catalog/providers/llm')).body.data.map((p: { id: string }) => p.id)).toContain('rules');
    expect((await g('/api/v1/catalog/providers/video')).status).toBe(400);
    expect((await g('/api/v1/catalog/providers/tts/voices')).body.data[0]).toHaveProperty('id');
    const dg = (await g('/api/v1/catalog/providers/asr/models?provider=deepgram')).body.data;
    expect(dg.map((m: { id: string }) => m.id)).toContain('nova-3');
    expect(dg.every((m: { provider: string }) => m.provider === 'deepgram')).toBe(true);
    expect(
      (await g('/api/v1/catalog/providers/llm/models?provider=rules')).body.data.map((m: { id: string }) => m.id),
    ).toEqual(['rules']);
    expect((await g('/api/v1/catalog/tools')).body.data.map((t: { name: string }) => t.name)).toContain('end_call');
    expect((await g('/api/v1/catalog/hangup')).body.data.actions.map((a: { id: string }) => a.id)).toContain(
      'transfer_call',
    );
    expect((await g(`/api/v1/catalog/assistants/${ast.assistantApiKey}/asr/models`)).body.data[0].id).toBe('nova-3');
    const tools = (await g(`/api/v1/catalog/assistants/${ast.assistantApiKey}/tools`)).body.data;
    expect(tools.map((t: { name: string; source: string }) => `${t.source}:${t.name}`)).toEqual([
      'builtin:end_call',
      'http:crm',
    ]);
    expect((await g(`/api/v1/catalog/assistants/${ast.assistantApiKey}/pre-call`)).body.data).toEqual({
      numberValidation: { enabled: false },
      mcpServers: [],
      operatorServers: [],
    });
  });

  it('answers 503 UNAVAILABLE without a provider registry', async () => {
    const h2 = await startHarness({ providers: undefined });
    try {
      const r = await h2.call('GET', '/api/v1/catalog/providers/tts', { headers: h2.a.h });
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('UNAVAILABLE');
    } finally {
      await h2.close();
    }
  });
});

describe('number routing', () => {
  it('routes numbers to own assistants only, one tenant per number', async () => {
    const r = await h.call('PUT', '/api/v1/account/number-routing', {
      headers: h.a.h,
      body: { number: '+1 (555) 010-0000', assistantApiKey: ast.assistantApiKey },
    });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ number: '+15550100000', assistantId: ast.id });
    const list = await h.call('GET', '/api/v1/account/number-routing', { headers: h.a.h });
    expect(list.body.data.map((x: { number: string }) => x.number)).toEqual(['+15550100000']);
    const bAst = (await h.call('POST', '/api/v1/assistants', { headers: h.b.h, body: {} })).body.data;
    const taken = await h.call('PUT', '/api/v1/account/number-routing', {
      headers: h.b.h,
      body: { number: '+15550100000', assistantApiKey: bAst.assistantApiKey },
    });
    expect(taken.status).toBe(409);
    const foreign = await h.call('PUT', '/api/v1/account/number-routing', {
      headers: h.b.h,
      body: { number: '+15550100001', assistantApiKey: ast.assistantApiKey },
    });
    expect(foreign.status).toBe(404);
    expect((await h.call('DELETE', '/api/v1/account/number-routing/%2B15550100000', { headers: h.b.h })).status).toBe(
      404,
    );
    expect((await h.call('DELETE', '/api/v1/account/number-routing/%2B15550100000', { headers: h.a.h })).status).toBe(
      200,
    );
  });
});

describe('plugins and credit', () => {
  it('lists, refuses a purchase without credit (402), purchases against credit, configures with masking', async () => {
    const avail = await h.call('GET', '/api/v1/account/plugins/available', { headers: h.a.h });
    const el = avail.body.data.find((p: { id: string }) => p.id === 'elevenlabs');
    expect(el.priceCents).toBeGreaterThan(0);
    const no = await h.call('POST', '/api/v1/account/plugins/purchase', {
      headers: h.a.h,
      body: { pluginId: 'elevenlabs' },
    });
    expect(no.status).toBe(402);
    expect(no.body.error.code).toBe('INSUFFICIENT_CREDIT');
    expect((await h.call('GET', '/api/v1/account/plugins/instances', { headers: h.a.h })).body.data).toEqual([]);
    await h.call('POST', `/api/v1/admin/tenants/${h.a.id}/credit`, {
      headers: { 'x-admin-api-key': 'admin-secret' },
      body: { amountCents: el.priceCents + 100 },
    });
    const ok = await h.call('POST', '/api/v1/account/plugins/purchase', {
      headers: h.a.h,
      body: { pluginId: 'elevenlabs' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.data.creditCents).toBe(100);
    // Buying again does not charge twice.
    expect(
      (await h.call('POST', '/api/v1/account/plugins/purchase', { headers: h.a.h, body: { pluginId: 'elevenlabs' } }))
        .body.data.creditCents,
    ).toBe(100);
    expect((await h.call('GET', '/api/v1/account/credit', { headers: h.a.h })).body.data.creditCents).toBe(100);
    const cfg = await h.call('PUT', '/api/v1/account/plugins/configuration/elevenlabs', {
      headers: h.a.h,
      body: { apiKey: 'xi-secret' },
    });
    expect(cfg.body.data.config).toEqual({ apiKey: '********' });
    expect(
      JSON.stringify(
        (await h.call('GET', '/api/v1/account/plugins/configuration/elevenlabs', { headers: h.a.h })).body,
      ),
    ).not.toContain('xi-secret');
    const unknownField = await h.call('PUT', '/api/v1/account/plugins/configuration/elevenlabs', {
      headers: h.a.h,
      body: { colour: 'x' },
    });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.error.details[0].field).toBe('colour');
    expect(
      (await h.call('PUT', '/api/v1/account/plugins/configuration/deepgram', { headers: h.a.h, body: {} })).status,
    ).toBe(404);
    expect(
      (await h.call('POST', '/api/v1/account/plugins/purchase', { headers: h.a.h, body: { pluginId: 'nope' } })).status,
    ).toBe(404);
    const inst = await h.call('GET', '/api/v1/account/plugins/instances', { headers: h.a.h });
    expect(inst.body.data.map((i: { pluginId: string; status: string }) => `${i.pluginId}:${i.status}`)).toEqual([
      'elevenlabs:active',
    ]);
  });
});

describe('analytics', () => {
  it('serves every kind as flat rows with ISO times, time filters and cursor pagination', async () => {
    for (let i = 0; i < 3; i++) {
      const c = await h.store.calls.create({
        tenantId: h.a.id,
        assistantId: ast.id,
        direction: i === 0 ? 'outbound' : 'inbound',
      });
      await h.store.calls.appendEvent(c.id, 'turn', { latencyMs: 500 + i });
    }
    await h.store.analytics.record(h.a.id, 'rag', { collection: 'faq', query: 'hours', hits: 3, topScore: 0.8 });
    await h.store.analytics.record(h.a.id, 'tool', { tool: 'crm', ok: true, ms: 120, args: { id: 7 } });
    await h.store.analytics.record(
      h.a.id,
      'precall',
      { check: 'numberValidation', ok: false },
      '2020-01-01T00:00:00.000Z',
    );
    await h.store.analytics.record(h.a.id, 'sms', { to: '+1' });
    const g = async (p: string) => {
      const r = await h.call('GET', p, { headers: h.a.h });
      expect(r.status, p).toBe(200);
      return r.body.data as { rows: Array<Record<string, unknown>>; nextCursor?: string };
    };
    const calls = await g('/api/v1/account/analytics/calls?limit=2');
    expect(calls.rows).toHaveLength(2);
    for (const row of calls.rows)
      for (const v of Object.values(row)) expect(v === null || typeof v !== 'object').toBe(true);
    expect(calls.rows[0]).toMatchObject({
      direction: 'inbound',
      turns: 1,
      latency_p50_ms: 502,
      created_at: expect.stringMatching(/Z$/),
    });
    const rest = await g(`/api/v1/account/analytics/calls?limit=2&cursor=${calls.nextCursor}`);
    expect(rest.rows).toHaveLength(1);
    expect(rest.nextCursor).toBeUndefined();
    expect((await g('/api/v1/account/analytics/calls-outbound')).rows.map((r) => r.direction)).toEqual(['outbound']);
    expect((await g('/api/v1/account/analytics/rag')).rows[0]).toMatchObject({
      collection: 'faq',
      topScore: 0.8,
      at: expect.any(String),
    });
    expect((await g('/api/v1/account/analytics/tool-responses')).rows[0]).toMatchObject({
      tool: 'crm',
      args: '{"id":7}',
    });
    expect((await g('/api/v1/account/analytics/sms')).rows).toHaveLength(1);
    expect((await g('/api/v1/account/analytics/recharges')).rows.length).toBeGreaterThan(0);
    expect((await g('/api/v1/account/analytics/pre-call')).rows).toHaveLength(1);
    expect((await g('/api/v1/account/analytics/pre-call?from=2021-01-01T00:00:00Z')).rows).toHaveLength(0);
    expect((await g('/api/v1/account/analytics/pre-call?to=2021-01-01T00:00:00Z')).rows).toHaveLength(1);
    // Tenant B sees none of it.
    const b = await h.call('GET', '/api/v1/account/analytics/rag', { headers: h.b.h });
    expect(b.body.data.rows).toEqual([]);
  });
});

describe('health', () => {
  it('reports ok, and 503 while draining', async () => {
    const ok = await h.call('GET', '/health');
    expect(ok.body).toMatchObject({ status: 'ok', db: true, dataDir: true });
    let draining = false;
    const h2 = await startHarness({ live: { activeCalls: () => 3, draining: () => draining } });
    try {
      expect((await h2.call('GET', '/health')).status).toBe(200);
      draining = true;
      const r = await h2.call('GET', '/health');
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ status: 'draining', activeCalls: 3 });
    } finally {
      await h2.close();
    }
  });
});
