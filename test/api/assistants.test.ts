import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

async function create(body: unknown = { name: 'Desk', prompt: 'You help.' }) {
  const r = await h.call('POST', '/api/v1/assistants', { headers: h.a.h, body });
  expect(r.status).toBe(201);
  return r.body.data as { id: string; assistantApiKey: string; version: number };
}

describe('assistants CRUD', () => {
  it('creates (201, both ids), reads by key or id, lists, patches with version bump, deletes', async () => {
    const a = await create();
    expect(a.id).toMatch(/^ag_/);
    expect(a.assistantApiKey).toMatch(/^ast_/);
    const byKey = await h.call('GET', `/api/v1/assistants/${a.assistantApiKey}`, { headers: h.a.h });
    expect(byKey.body.data).toMatchObject({ id: a.id, assistantApiKey: a.assistantApiKey, version: 1 });
    const byId = await h.call('GET', `/api/v1/assistants/${a.id}`, { headers: h.a.h });
    expect(byId.body.data.assistantApiKey).toBe(a.assistantApiKey);
    const list = await h.call('GET', '/api/v1/assistants?limit=500', { headers: h.a.h });
    expect(list.body.data.rows.map((x: { id: string }) => x.id)).toContain(a.id);
    for (const row of list.body.data.rows) expect(row).toHaveProperty('assistantApiKey');

    const p = await h.call('PATCH', `/api/v1/assistants/${a.assistantApiKey}`, {
      headers: h.a.h,
      body: { firstMessage: 'Hello!', settings: { silenceTimeoutMs: 5000 } },
    });
    expect(p.status).toBe(200);
    expect(p.body.data.version).toBe(2);
    expect(p.body.data.config).toMatchObject({
      name: 'Desk',
      prompt: 'You help.',
      firstMessage: 'Hello!',
      settings: { silenceTimeoutMs: 5000 },
    });
    expect(h.applied).toContain(a.id);
    expect(await h.store.assistants.getVersion(a.id)).toBe(2);

    const d = await h.call('DELETE', `/api/v1/assistants/${a.assistantApiKey}`, { headers: h.a.h });
    expect(d.body.data).toEqual({ deleted: true, id: a.id });
    const gone = await h.call('GET', `/api/v1/assistants/${a.assistantApiKey}`, { headers: h.a.h });
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('ASSISTANT_NOT_FOUND');
  });

  it('paginates with an opaque cursor', async () => {
    for (let i = 0; i < 3; i++) await create({ name: `p${i}` });
    const p1 = await h.call('GET', '/api/v1/assistants?limit=2', { headers: h.a.h });
    expect(p1.body.data.rows).toHaveLength(2);
    const p2 = await h.call('GET', `/api/v1/assistants?limit=2&cursor=${p1.body.data.nextCursor}`, { headers: h.a.h });
    expect(p2.body.data.rows[0].id).not.toBe(p1.body.data.rows[1].id);
    expect((await h.call('GET', '/api/v1/assistants?cursor=%%%', { headers: h.a.h })).status).toBe(400);
  });

  it('rejects invalid documents with field names', async () => {
    const r = await h.call('POST', '/api/v1/assistants', {
      headers: h.a.h,
      body: { settings: { silenceTimeoutMs: 5 }, colour: 'red', tts: { speed: 9 } },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION_FAILED');
    const fields = r.body.error.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['colour', 'settings.silenceTimeoutMs', 'tts.speed']));
    expect(r.body.error.message).toContain('settings.silenceTimeoutMs');
    const notJson = await fetch(`${h.url}/api/v1/assistants`, {
      method: 'POST',
      headers: { ...h.a.h, 'content-type': 'application/json' },
      body: '{',
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { status: string }).status).toBe('error');
  });

  it('validates providers, models and voices against the catalog (422 naming them)', async () => {
    const a = await create();
    const up = await h.call('PATCH', `/api/v1/assistants/${a.assistantApiKey}/runtime/tts`, {
      headers: h.a.h,
      body: { provider: 'acme' },
    });
    expect(up.status).toBe(422);
    expect(up.body.error.code).toBe('UNKNOWN_PROVIDER');
    expect(up.body.error.message).toContain("'acme'");
    const um = await h.call('PATCH', `/api/v1/assistants/${a.assistantApiKey}/runtime/asr`, {
      headers: h.a.h,
      body: { provider: 'deepgram', model: 'nova-9' },
    });
    expect(um.status).toBe(422);
    expect(um.body.error.code).toBe('UNKNOWN_MODEL');
    expect(um.body.error.message).toContain('nova-9');
    const fb = await h.call('PATCH', `/api/v1/assistants/${a.assistantApiKey}/runtime/llm`, {
      headers: h.a.h,
      body: { fallback: ['skynet'] },
    });
    expect(fb.status).toBe(422);
    expect(fb.body.error.code).toBe('UNKNOWN_PROVIDER');
    const uv = await h.call('PATCH', `/api/v1/assistants/${a.assistantApiKey}/runtime/tts`, {
      headers: h.a.h,
      body: { provider: 'elevenlabs', voice: 'nobody' },
    });
    expect(uv.status).toBe(422);
    expect(uv.body.error.code).toBe('UNKNOWN_VOICE');
    const onCreate = await h.call('POST', '/api/v1/assistants', {
      headers: h.a.h,
      body: { asr: { provider: 'nope' } },
    });
    expect(onCreate.status).toBe(422);
    // Nothing was changed by the refused patches.
    expect(await h.store.assistants.getVersion(a.id)).toBe(1);
    const ok = await h.call('PATCH', `/api/v1/assistants/${a.assistantApiKey}/runtime/tts`, {
      headers: h.a.h,
      body: { provider: 'elevenlabs', voice: '21m00Tcm4TlvDq8ikWAM' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.data).toEqual({ provider: 'elevenlabs', voice: '21m00Tcm4TlvDq8ikWAM' });
  });
});

describe('prompt and runtime blocks', () => {
  it('reads and patches the prompt', async () => {
    const a = await create();
    const r = await h.call('PATCH', `/api/v1/assistants/${a.assistantApiKey}/prompt`, {
      headers: h.a.h,
      body: { firstMessage: 'Hi {{name}}' },
    });
    expect(r.body.data).toEqual({ prompt: 'You help.', firstMessage: 'Hi {{name}}' });
    const g = await h.call('GET', `/api/v1/assistants/${a.assistantApiKey}/prompt`, { headers: h.a.h });
    expect(g.body.data).toEqual({ prompt: 'You help.', firstMessage: 'Hi {{name}}' });
  });

  it('patches each block on its own, merging fields, and bumps the version each time', async () => {
    const a = await create();
    const bodies: Record<string, unknown> = {
      settings: { maxDurationSec: 600 },
      asr: { provider: 'deepgram', model: 'nova-3', keyterms: ['Acme'] },
      llm: { provider: 'rules', rules: [{ keywords: ['hours'], reply: 'We open at 9.' }] },
      tts: { provider: 'offline', voice: 'espeak:en-gb' },
      dtmf: { terminator: '*', menu: { '1': { reply: 'Sales' } } },
      rag: { collections: ['faq'], topK: 4 },
      tools: { builtins: ['end_call'] },
      hangup: { endPhrases: ['bye'] },
      precall: { numberValidation: { enabled: false } },
    };
    let version = 1;
    for (const [block, body] of Object.entries(bodies)) {
      const url = `/api/v1/assistants/${a.assistantApiKey}/runtime/${block}`;
      const p = await h.call('PATCH', url, { headers: h.a.h, body });
      expect(p.status, block).toBe(200);
      expect(p.body.data).toMatchObject(body as object);
      version++;
      const g = await h.call('GET', url, { headers: h.a.h });
      expect(g.body.data).toMatchObject(body as object);
    }
    expect(await h.store.assistants.getVersion(a.id)).toBe(version);
    // Merge: a second settings patch keeps the first field.
    const s = await h.call('PATCH', `/api/v1/assistants/${a.assistantApiKey}/runtime/settings`, {
      headers: h.a.h,
      body: { recordAudio: false },
    });
    expect(s.body.data).toEqual({ maxDurationSec: 600, recordAudio: false });
    const bad = await h.call('PATCH', `/api/v1/assistants/${a.assistantApiKey}/runtime/dtmf`, {
      headers: h.a.h,
      body: { terminator: '##' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('terminator');
  });

  it('serves hangup save-conversation and schema, precall number-validation and mcp-config', async () => {
    const a = await create();
    const base = `/api/v1/assistants/${a.assistantApiKey}/runtime`;
    const sc = await h.call('PATCH', `${base}/hangup/save-conversation`, { headers: h.a.h, body: { summary: false } });
    expect(sc.body.data).toEqual({ summary: false });
    const schema = { type: 'object', properties: { name: { type: 'string' } } };
    expect((await h.call('PATCH', `${base}/hangup/schema`, { headers: h.a.h, body: schema })).body.data).toEqual(
      schema,
    );
    expect((await h.call('GET', `${base}/hangup/schema`, { headers: h.a.h })).body.data).toEqual(schema);
    const nv = await h.call('PATCH', `${base}/precall/number-validation`, {
      headers: h.a.h,
      body: { enabled: true, allowedPrefixes: ['+1'] },
    });
    expect(nv.body.data).toEqual({ enabled: true, allowedPrefixes: ['+1'] });
    const mcp = { mcpServers: [{ name: 'crm', transport: 'http', url: 'http://127.0.0.1:9/mcp' }] };
    expect((await h.call('PATCH', `${base}/precall/mcp-config`, { headers: h.a.h, body: mcp })).body.data).toEqual(mcp);
    const badMcp = await h.call('PATCH', `${base}/precall/mcp-config`, {
      headers: h.a.h,
      body: { mcpServers: [{ name: 'x', transport: 'carrier-pigeon' }] },
    });
    expect(badMcp.status).toBe(400);
    const whole = await h.call('GET', `/api/v1/assistants/${a.assistantApiKey}`, { headers: h.a.h });
    expect(whole.body.data.config.hangup).toEqual({ saveConversation: { summary: false }, schema });
    expect(whole.body.data.config.precall.mcpServers[0].name).toBe('crm');
    expect((await h.call('GET', `${base}/hangup`, { headers: h.a.h })).body.data.schema).toEqual(schema);
  });
});
