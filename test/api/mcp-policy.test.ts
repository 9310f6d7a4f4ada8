import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EngineHarness, startEngine } from '../engine-harness.js';
import { type Harness, startHarness } from './harness.js';

/** Issue 11, finding 1: a tenant never chooses a program for the host to run. */
describe('MCP servers: tenants get HTTP(S) only, programs are operator configuration', () => {
  let h: Harness;
  let opsFile: string;
  let key: string;

  beforeAll(async () => {
    opsFile = path.join(os.tmpdir(), `mcp-servers-${process.pid}-${Date.now()}.json`);
    fs.writeFileSync(
      opsFile,
      JSON.stringify({ servers: [{ name: 'crm', command: '/usr/bin/true', args: [], env: ['CRM_TOKEN'] }] }),
    );
    h = await startHarness({}, { MCP_SERVERS_FILE: opsFile });
    const a = await h.call('POST', '/api/v1/assistants', { headers: h.a.h, body: { name: 'mcp' } });
    key = a.body.data.assistantApiKey;
  });

  afterAll(async () => {
    await h.close();
    fs.rmSync(opsFile, { force: true });
  });

  it('refuses the stdio payload of the report with 422 MCP_COMMAND_NOT_ALLOWED naming the field, and stores nothing', async () => {
    const r = await h.call('PATCH', `/api/v1/assistants/${key}/runtime/precall/mcp-config`, {
      headers: h.a.h,
      body: { mcpServers: [{ name: 'x', transport: 'stdio', command: 'sh', args: ['-c', 'id'] }] },
    });
    expect(r.status).toBe(422);
    expect(r.body.status).toBe('error');
    expect(r.body.error.code).toBe('MCP_COMMAND_NOT_ALLOWED');
    expect(r.body.error.details.field).toBe('mcpServers[0].transport');
    expect(r.body.error.message).toContain('mcpServers[0].transport');
    const after = await h.call('GET', `/api/v1/assistants/${key}`, { headers: h.a.h });
    expect(after.body.data.config.precall).toBeUndefined();
  });

  it('refuses a command however it is sent: whole assistant, precall block, no transport given', async () => {
    const viaCreate = await h.call('POST', '/api/v1/assistants', {
      headers: h.a.h,
      body: { precall: { mcpServers: [{ name: 'x', command: '/bin/sh' }] } },
    });
    expect(viaCreate.status).toBe(422);
    expect(viaCreate.body.error.details.field).toBe('precall.mcpServers[0].command');
    const viaBlock = await h.call('PATCH', `/api/v1/assistants/${key}/runtime/precall`, {
      headers: h.a.h,
      body: {
        mcpServers: [
          { name: 'ok', url: 'https://mcp.example.com/mcp' },
          { name: 'x', args: ['-c', 'id'] },
        ],
      },
    });
    expect(viaBlock.status).toBe(422);
    expect(viaBlock.body.error.details.field).toBe('mcpServers[1].args');
  });

  it('accepts an operator server by name and an HTTPS URL; refuses an unknown operator name', async () => {
    const base = `/api/v1/assistants/${key}/runtime/precall/mcp-config`;
    const good = {
      mcpServers: [
        { name: 'crm', server: 'crm' },
        { name: 'orders', transport: 'http', url: 'https://mcp.example.com/mcp' },
      ],
    };
    const ok = await h.call('PATCH', base, { headers: h.a.h, body: good });
    expect(ok.status).toBe(200);
    expect(ok.body.data).toEqual(good);
    const unknown = await h.call('PATCH', base, {
      headers: h.a.h,
      body: { mcpServers: [{ name: 'y', server: 'nope' }] },
    });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.code).toBe('UNKNOWN_MCP_SERVER');
    expect(unknown.body.error.details.field).toBe('precall.mcpServers[0].server');
    const cat = await h.call('GET', `/api/v1/catalog/assistants/${key}/pre-call`, { headers: h.a.h });
    expect(cat.body.data.operatorServers).toEqual(['crm']);
    expect(cat.body.data.mcpServers[0]).toEqual({ name: 'crm', server: 'crm', tools: 'all' });
    // The operator's command never appears in what a tenant can read.
    expect(JSON.stringify(cat.body)).not.toContain('/usr/bin/true');
  });
});

describe('a stdio MCP config already stored in the database', () => {
  let e: EngineHarness;
  const marker = path.join(os.tmpdir(), `mcp-ran-${process.pid}-${Date.now()}`);

  beforeAll(async () => {
    e = await startEngine();
  });

  afterAll(async () => {
    await e.close();
    fs.rmSync(marker, { force: true });
  });

  it('never spawns a process when a call starts; the call goes on and records the refusal', async () => {
    const created = await e.api('POST', '/api/v1/assistants', { name: 'legacy', firstMessage: 'Hello.' });
    const a = created.json.data;
    // Written straight to the store, as a config saved before the API refused it would be.
    await e.engine.store.assistants.update(a.tenantId ?? e.engine.firstTenantId, a.id, {
      firstMessage: 'Hello.',
      precall: {
        mcpServers: [{ name: 'x', transport: 'stdio', command: 'sh', args: ['-c', `touch ${marker}`] }],
      },
    } as never);
    await e.twilioCall(a.assistantApiKey, 'CAmcp0000000000000000000000000000', 1500);
    const [call] = await e.settledCalls();
    expect(call.status).toBe('completed');
    expect(fs.existsSync(marker)).toBe(false);
    const detail = await e.api('GET', `/api/v1/calls/${call.id}`);
    expect(JSON.stringify(detail.json.data)).toContain('operator configuration only');
  });
});
