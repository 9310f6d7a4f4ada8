import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { defaultGuardedFetch } from '../net/egress.js';
import { type OperatorMcpServer, operatorServerEnv } from './mcp-servers.js';
import type { Tool, ToolResult } from './types.js';

/**
 * MCP tools (assistant.precall.mcpServers): one client per server per call, over streamable HTTP (tenant URL) or
 * stdio (operator-configured program only, src/tools/mcp-servers.ts). The
 * server's tools are listed once at call start and offered to the LLM with their own JSON schemas.
 */
const CONNECT_TIMEOUT_MS = 5000;
const MAX_RESULT_CHARS = 4000;

export interface McpConnection {
  readonly server: string;
  readonly tools: Tool[];
  close(): Promise<void>;
}

/** Where to reach one MCP server: resolved by the registry, never a command taken from an assistant. */
export type McpTarget =
  | { kind: 'http'; name: string; url: string; headers?: Record<string, string>; tools?: string[] }
  | { kind: 'operator'; name: string; server: OperatorMcpServer; tools?: string[] };

export async function connectMcp(cfg: McpTarget): Promise<McpConnection> {
  const client = new Client({ name: 'voice-engine', version: '0.1.0' });
  let transport: StreamableHTTPClientTransport | StdioClientTransport;
  if (cfg.kind === 'http') {
    transport = new StreamableHTTPClientTransport(new URL(cfg.url), {
      requestInit: cfg.headers ? { headers: cfg.headers } : undefined,
      // Tenant-controlled URL: the SSRF-guarded fetch (src/net/egress.ts).
      fetch: defaultGuardedFetch(),
    });
  } else {
    const s = cfg.server;
    transport = new StdioClientTransport({
      command: s.command,
      args: s.args ?? [],
      env: operatorServerEnv(s, getDefaultEnvironment()),
      ...(s.cwd ? { cwd: s.cwd } : {}),
      stderr: 'ignore',
    });
  }
  await client.connect(transport, { timeout: CONNECT_TIMEOUT_MS });
  const listed = await client.listTools(undefined, { timeout: CONNECT_TIMEOUT_MS });
  const allow = cfg.tools ? new Set(cfg.tools) : undefined;
  const tools: Tool[] = [];
  for (const t of listed.tools) {
    if (allow && !allow.has(t.name)) continue;
    tools.push({
      name: t.name,
      description: t.description ?? `${t.name} (MCP server ${cfg.name})`,
      parameters: (t.inputSchema as Record<string, unknown>) ?? { type: 'object', properties: {} },
      async run(args, ctx): Promise<ToolResult> {
        try {
          const res = await client.callTool({ name: t.name, arguments: args }, undefined, { signal: ctx.signal });
          const parts: string[] = [];
          const content = Array.isArray(res.content) ? res.content : [];
          for (const c of content as { type: string; text?: string }[]) {
            if (c.type === 'text' && typeof c.text === 'string') parts.push(c.text);
          }
          if (parts.length === 0 && res.structuredContent !== undefined)
            parts.push(JSON.stringify(res.structuredContent));
          let text = parts.join('\n');
          if (text.length > MAX_RESULT_CHARS) text = `${text.slice(0, MAX_RESULT_CHARS)}…`;
          return { ok: res.isError !== true, content: text };
        } catch (err) {
          return { ok: false, content: JSON.stringify({ error: (err as Error).message }) };
        }
      },
    });
  }
  let closed = false;
  return {
    server: cfg.name,
    tools,
    async close() {
      if (closed) return;
      closed = true;
      await client.close().catch(() => undefined);
    },
  };
}
