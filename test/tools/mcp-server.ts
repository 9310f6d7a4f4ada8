/**
 * A loopback MCP server for tests: the real @modelcontextprotocol/sdk server over streamable HTTP (stateless: one
 * transport per request), with two tools: `lookup_order` and `slow_echo`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

export interface McpTestServer {
  url: string;
  calls: { name: string; args: Record<string, unknown> }[];
  close(): Promise<void>;
}

function mcpServer(calls: McpTestServer['calls']): Server {
  const server = new Server({ name: 'test-mcp', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [
      {
        name: 'lookup_order',
        description: 'Look up an order by its number',
        inputSchema: { type: 'object', properties: { order: { type: 'string' } }, required: ['order'] },
      },
      {
        name: 'hidden_tool',
        description: 'Not offered when the assistant filters tools',
        inputSchema: { type: 'object', properties: {} },
      },
    ],
  }));
  server.setRequestHandler(CallToolRequestSchema, async (req) => {
    const args = (req.params.arguments ?? {}) as Record<string, unknown>;
    calls.push({ name: req.params.name, args });
    if (req.params.name === 'lookup_order') {
      return {
        content: [{ type: 'text', text: JSON.stringify({ order: args.order, status: 'shipped', eta: 'Friday' }) }],
      };
    }
    return { content: [{ type: 'text', text: 'unknown tool' }], isError: true };
  });
  return server;
}

export async function startMcpServer(): Promise<McpTestServer> {
  const calls: McpTestServer['calls'] = [];
  const httpServer = http.createServer(async (req, res) => {
    if (req.url !== '/mcp') {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body: unknown = text ? JSON.parse(text) : undefined;
    const server = mcpServer(calls);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
  const port = (httpServer.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    close: () =>
      new Promise<void>((r) => {
        httpServer.closeAllConnections();
        httpServer.close(() => r());
      }),
  };
}
