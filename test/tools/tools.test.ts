import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssistantConfig } from '../../src/assistant.js';
import { silentLogger } from '../../src/log.js';
import { httpTool } from '../../src/tools/http.js';
import { createToolRegistry } from '../../src/tools/registry.js';
import type { ToolContext } from '../../src/tools/types.js';
import { type McpTestServer, startMcpServer } from './mcp-server.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let server: http.Server;
let base = '';
const seen: Seen[] = [];
let mcp: McpTestServer;

beforeAll(async () => {
  server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
    if (req.url?.startsWith('/slow')) {
      await new Promise((r) => setTimeout(r, 1500));
    }
    if (req.url?.startsWith('/fail')) {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"boom"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, url: req.url }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  mcp = await startMcpServer();
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await mcp.close();
});

function ctx(over: Partial<ToolContext> = {}): ToolContext & { ended: string[]; transfers: unknown[]; dtmf: string[] } {
  const ended: string[] = [];
  const transfers: unknown[] = [];
  const dtmf: string[] = [];
  return {
    callId: 'c1',
    signal: new AbortController().signal,
    logger: silentLogger,
    endCall: (r) => ended.push(r),
    transfer: (target, mode, summary) => transfers.push({ target, mode, summary }),
    sendDtmf: (d) => dtmf.push(d),
    transferTargets: [],
    ended,
    transfers,
    dtmf,
    ...over,
  };
}

describe('HTTP tools', () => {
  it('fills the URL and JSON body templates, sends auth, returns the body', async () => {
    const t = httpTool({
      type: 'http',
      name: 'create_ticket',
      description: 'Create a ticket',
      method: 'POST',
      url: `${base}/tickets/{{customer}}`,
      headers: { 'x-source': 'voice-{{channel}}' },
      body: '{"subject": "{{subject}}", "priority": {{priority}}, "tags": {{tags}}}',
      auth: { type: 'bearer', token: 'tok123' },
    });
    const res = await t.run(
      { customer: 'a b', channel: 'phone', subject: 'He said "hi"', priority: 2, tags: ['x'] },
      ctx(),
    );
    expect(res.ok).toBe(true);
    const s = seen.at(-1)!;
    expect(s.url).toBe('/tickets/a%20b');
    expect(s.headers.authorization).toBe('Bearer tok123');
    expect(s.headers['x-source']).toBe('voice-phone');
    expect(JSON.parse(s.body)).toEqual({ subject: 'He said "hi"', priority: 2, tags: ['x'] });
    expect(JSON.parse(res.content).url).toBe('/tickets/a%20b');
  });

  it('GET sends arguments as a query string; basic and header auth', async () => {
    const basic = httpTool({
      type: 'http',
      name: 'g',
      description: 'd',
      method: 'GET',
      url: `${base}/q`,
      auth: { type: 'basic', username: 'u', password: 'p' },
    });
    await basic.run({ id: 7, name: 'x y' }, ctx());
    let s = seen.at(-1)!;
    expect(s.method).toBe('GET');
    expect(s.url).toBe('/q?id=7&name=x+y');
    expect(s.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    const hdr = httpTool({
      type: 'http',
      name: 'h',
      description: 'd',
      method: 'GET',
      url: `${base}/h`,
      auth: { type: 'header', header: 'X-Api-Key', token: 'k' },
    });
    await hdr.run({}, ctx());
    s = seen.at(-1)!;
    expect(s.headers['x-api-key']).toBe('k');
  });

  it('a tool URL pointing at cloud metadata is refused by the egress guard (an error result)', async () => {
    const t = httpTool({
      type: 'http',
      name: 'ssrf',
      description: 'd',
      method: 'GET',
      url: 'http://169.254.169.254/latest/meta-data/',
    });
    const r = await t.run({}, ctx());
    expect(r.ok).toBe(false);
    expect(JSON.parse(r.content).error).toMatch(/Egress refused/);
  });

  it('a non-2xx status and a timeout are error results, not exceptions', async () => {
    const fail = httpTool({ type: 'http', name: 'f', description: 'd', url: `${base}/fail` });
    const r1 = await fail.run({}, ctx());
    expect(r1.ok).toBe(false);
    expect(JSON.parse(r1.content).error).toBe('HTTP 500');
    const slow = httpTool({ type: 'http', name: 's', description: 'd', url: `${base}/slow`, timeoutMs: 100 });
    const r2 = await slow.run({}, ctx());
    expect(r2.ok).toBe(false);
    expect(JSON.parse(r2.content).error).toContain('timed out');
  });
});

describe('built-in tools and the registry', () => {
  it('catalog lists the built-ins with JSON-schema parameters', () => {
    const names = createToolRegistry()
      .catalog()
      .map((c) => c.name);
    expect(names).toEqual(['end_call', 'transfer_call', 'send_dtmf', 'search_knowledge']);
    for (const c of createToolRegistry().catalog()) expect((c.parameters as { type: string }).type).toBe('object');
  });

  it('transfer_call only to configured targets; send_dtmf validates digits; search_knowledge uses the retriever', async () => {
    const tools = await createToolRegistry().forCall(
      {
        tools: { builtins: ['transfer_call', 'send_dtmf', 'search_knowledge'] },
        hangup: { transferTargets: [{ name: 'billing', number: '+15551230000' }] },
      },
      silentLogger,
    );
    const c = ctx({
      transferTargets: [{ name: 'billing', number: '+15551230000' }],
      search: async (q) => [{ text: `about ${q}`, score: 0.9, source: 'faq.md' }],
    });
    expect((await tools.get('transfer_call')!.run({ target: '+19999999999' }, c)).ok).toBe(false);
    expect((await tools.get('transfer_call')!.run({ target: 'Billing' }, c)).ok).toBe(true);
    expect(c.transfers).toEqual([{ target: '+15551230000', mode: 'cold', summary: undefined }]);
    expect((await tools.get('send_dtmf')!.run({ digits: '12x' }, c)).ok).toBe(false);
    expect((await tools.get('send_dtmf')!.run({ digits: '12#' }, c)).ok).toBe(true);
    expect(c.dtmf).toEqual(['12#']);
    const k = await tools.get('search_knowledge')!.run({ query: 'refunds' }, c);
    expect(JSON.parse(k.content).results[0]).toEqual({ text: 'about refunds', score: 0.9, source: 'faq.md' });
    expect(tools.get('end_call')).toBeUndefined();
    await tools.close();
  });
});

describe('MCP tools', () => {
  it('lists the tools of a streamable-HTTP MCP server (filtered) and calls them', async () => {
    const tools = await createToolRegistry().forCall(
      { precall: { mcpServers: [{ name: 'orders', transport: 'http', url: mcp.url, tools: ['lookup_order'] }] } },
      silentLogger,
    );
    const names = tools.specs().map((s) => s.name);
    expect(names).toContain('lookup_order');
    expect(names).not.toContain('hidden_tool');
    const spec = tools.specs().find((s) => s.name === 'lookup_order')!;
    expect(spec.parameters).toMatchObject({ type: 'object', required: ['order'] });
    const res = await tools.get('lookup_order')!.run({ order: 'A17' }, ctx());
    expect(res.ok).toBe(true);
    expect(JSON.parse(res.content)).toEqual({ order: 'A17', status: 'shipped', eta: 'Friday' });
    expect(mcp.calls.at(-1)).toEqual({ name: 'lookup_order', args: { order: 'A17' } });
    await tools.close();
  });

  it('an operator-configured stdio MCP server, referenced by name, runs with only its allowlisted environment', async () => {
    process.env.TEST_CRM_TOKEN = 'crm-123';
    process.env.TEST_ENGINE_SECRET = 'engine-only';
    const registry = createToolRegistry({
      mcpServers: [
        {
          name: 'calc',
          command: process.execPath,
          args: ['--import', 'tsx', 'test/tools/mcp-stdio-server.ts'],
          env: ['TEST_CRM_TOKEN'],
        },
      ],
    });
    const tools = await registry.forCall({ precall: { mcpServers: [{ name: 'calc', server: 'calc' }] } }, silentLogger);
    try {
      expect(tools.specs().map((s) => s.name)).toContain('add');
      expect(await tools.get('add')!.run({ a: 2, b: 40 }, ctx())).toEqual({ ok: true, content: '42' });
      expect((await tools.get('env')!.run({ name: 'TEST_CRM_TOKEN' }, ctx())).content).toBe('crm-123');
      expect((await tools.get('env')!.run({ name: 'TEST_ENGINE_SECRET' }, ctx())).content).toBe('(unset)');
    } finally {
      await tools.close();
      delete process.env.TEST_CRM_TOKEN;
      delete process.env.TEST_ENGINE_SECRET;
    }
  }, 30_000);

  it('a stdio entry with a command in an assistant config (stored before the API refused it) never starts a process', async () => {
    const marker = path.join(os.tmpdir(), `mcp-stdio-${process.pid}-${Date.now()}`);
    const issues: string[] = [];
    const stored = {
      precall: { mcpServers: [{ name: 'x', transport: 'stdio', command: 'sh', args: ['-c', `touch ${marker}`] }] },
    } as unknown as AssistantConfig;
    const tools = await createToolRegistry().forCall(stored, silentLogger, (what) => issues.push(what));
    await new Promise((r) => setTimeout(r, 300));
    expect(issues).toEqual(['mcp:x']);
    expect(fs.existsSync(marker)).toBe(false);
    await tools.close();
  });

  it('an assistant naming an operator server that is not configured gets no process and an issue', async () => {
    const issues: string[] = [];
    const tools = await createToolRegistry().forCall(
      { precall: { mcpServers: [{ name: 'crm', server: 'crm' }] } },
      silentLogger,
      (what) => issues.push(what),
    );
    expect(issues).toEqual(['mcp:crm']);
    await tools.close();
  });

  it('an unreachable MCP server is reported and skipped, the call goes on', async () => {
    const issues: string[] = [];
    const tools = await createToolRegistry().forCall(
      { precall: { mcpServers: [{ name: 'down', transport: 'http', url: 'http://127.0.0.1:9/mcp' }] } },
      silentLogger,
      (what) => issues.push(what),
    );
    expect(issues).toEqual(['mcp:down']);
    expect(tools.specs().map((s) => s.name)).toEqual(['end_call']);
    await tools.close();
  });
});
