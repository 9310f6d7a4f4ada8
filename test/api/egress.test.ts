import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
afterEach(async () => h?.close());

const hook = (url: string) => ({ url, events: ['call.ended'] });

describe('egress policy in API validation (src/net/policy.ts)', () => {
  it('webhook URLs at metadata, with credentials or another scheme: 422 naming the field; nothing stored', async () => {
    h = await startHarness();
    for (const [url, why] of [
      ['http://169.254.169.254/latest/meta-data/', /url: .*link-local/],
      ['http://2852039166/', /url: 169\.254\.169\.254 .*link-local/],
      ['http://0xa9fea9fe/', /link-local/],
      ['http://[::ffff:169.254.169.254]/', /link-local/],
      ['http://metadata.google.internal/', /metadata/],
      ['https://user:pw@hooks.example.com/', /url: must not carry credentials/],
      ['http://0.0.0.0:8080/', /this network/],
    ] as const) {
      const r = await h.call('POST', '/api/v1/webhooks', { headers: h.a.h, body: hook(url) });
      expect(r.status, url).toBe(422);
      expect(r.body.error.code).toBe('UNPROCESSABLE');
      expect(r.body.error.message).toMatch(why);
      expect(r.body.error.details[0]).toMatchObject({ field: 'url', instancePath: '/url' });
    }
    expect((await h.call('GET', '/api/v1/webhooks', { headers: h.a.h })).body.data).toEqual([]);

    // Loopback is fine by default (one self-hosted box); an update to metadata is refused, the old URL kept.
    const ok = await h.call('POST', '/api/v1/webhooks', { headers: h.a.h, body: hook('http://127.0.0.1:9/hook') });
    expect(ok.status).toBe(201);
    const id = ok.body.data.id as string;
    const bad = await h.call('PATCH', `/api/v1/webhooks/${id}`, {
      headers: h.a.h,
      body: { url: 'http://[fe80::1]/' },
    });
    expect(bad.status).toBe(422);
    expect((await h.call('GET', `/api/v1/webhooks/${id}`, { headers: h.a.h })).body.data.url).toBe(
      'http://127.0.0.1:9/hook',
    );
    expect((await h.call('PATCH', `/api/v1/webhooks/${id}`, { headers: h.a.h, body: { enabled: false } })).status).toBe(
      200,
    );
  });

  it('EGRESS_BLOCK_PRIVATE=true refuses loopback and RFC 1918 webhook URLs; EGRESS_ALLOW_HOSTS exempts', async () => {
    h = await startHarness({}, { EGRESS_BLOCK_PRIVATE: 'true', EGRESS_ALLOW_HOSTS: 'hooks.internal,10.9.0.0/16' });
    for (const url of ['http://127.0.0.1:9/', 'http://localhost:9/', 'http://10.0.0.5/', 'http://[fd00::5]/']) {
      const r = await h.call('POST', '/api/v1/webhooks', { headers: h.a.h, body: hook(url) });
      expect(r.status, url).toBe(422);
    }
    for (const url of ['http://10.9.1.2/hook', 'https://hooks.internal/x', 'https://hooks.example.com/x']) {
      const r = await h.call('POST', '/api/v1/webhooks', { headers: h.a.h, body: hook(url) });
      expect(r.status, url).toBe(201);
    }
  });

  it('plugin baseUrl / ariUrl / FreeSWITCH host at metadata: 422 naming the field; config unchanged', async () => {
    h = await startHarness();
    for (const p of ['twilio', 'asterisk', 'freeswitch']) {
      const r = await h.call('POST', '/api/v1/account/plugins/purchase', { headers: h.a.h, body: { pluginId: p } });
      expect(r.status, p).toBe(200);
    }
    const put = (p: string, body: Record<string, unknown>) =>
      h.call('PUT', `/api/v1/account/plugins/configuration/${p}`, { headers: h.a.h, body });
    const r1 = await put('twilio', { accountSid: 'AC1', baseUrl: 'http://169.254.169.254' });
    expect(r1.status).toBe(422);
    expect(r1.body.error.message).toMatch(/^baseUrl: .*link-local/);
    expect(r1.body.error.details[0].field).toBe('baseUrl');
    expect(
      (await h.call('GET', '/api/v1/account/plugins/configuration/twilio', { headers: h.a.h })).body.data.config,
    ).toEqual({});

    const r2 = await put('asterisk', { ariUrl: 'http://0xa9fea9fe:8088' });
    expect(r2.status).toBe(422);
    expect(r2.body.error.details[0].field).toBe('ariUrl');
    expect((await put('asterisk', { ariUrl: 'ftp://pbx:8088' })).body.error.message).toMatch(/scheme ftp:/);
    expect((await put('asterisk', { ariUrl: 'http://pbx.lan:8088' })).status).toBe(200);

    const r3 = await put('freeswitch', { host: '169.254.169.254' });
    expect(r3.status).toBe(422);
    expect(r3.body.error.details[0].field).toBe('host');
    expect((await put('freeswitch', { host: '127.0.0.1', port: 8021 })).status).toBe(200);
    expect((await put('twilio', { baseUrl: 'https://api.twilio.com' })).status).toBe(200);
  });
});

describe('egress policy on assistant tool and MCP URLs', () => {
  it('refuses HTTP tool and MCP server URLs at metadata (422 with the field), on create and on patch', async () => {
    h = await startHarness();
    const tool = (url: string) => ({ type: 'http', name: 'lookup', description: 'd', url });
    const bad = await h.call('POST', '/api/v1/assistants', {
      headers: h.a.h,
      body: { tools: { http: [tool('https://api.example.com/{{id}}'), tool('http://169.254.169.254/{{path}}')] } },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.message).toMatch(/^tools\.http\[1\]\.url: .*link-local/);
    expect(bad.body.error.details[0].instancePath).toBe('/tools/http/1/url');

    const mcp = await h.call('POST', '/api/v1/assistants', {
      headers: h.a.h,
      body: { precall: { mcpServers: [{ name: 'm', transport: 'http', url: 'http://[::ffff:a9fe:a9fe]/mcp' }] } },
    });
    expect(mcp.status).toBe(422);
    expect(mcp.body.error.details[0].field).toBe('precall.mcpServers[0].url');

    const ok = await h.call('POST', '/api/v1/assistants', {
      headers: h.a.h,
      body: { tools: { http: [tool('http://{{host}}/x'), tool('http://127.0.0.1:9/x')] } },
    });
    expect(ok.status).toBe(201);
    const patched = await h.call('PATCH', `/api/v1/assistants/${ok.body.data.assistantApiKey}`, {
      headers: h.a.h,
      body: { tools: { http: [tool('http://0xa9fea9fe/')] } },
    });
    expect(patched.status).toBe(422);
  });
});
