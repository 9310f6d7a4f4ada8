/** A stdio MCP server for the tests (started as a child process with `node --import tsx`). */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const server = new Server({ name: 'stdio-test', version: '1.0.0' }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, async () => ({
  tools: [
    {
      name: 'add',
      description: 'Add two numbers',
      inputSchema: {
        type: 'object',
        properties: { a: { type: 'number' }, b: { type: 'number' } },
        required: ['a', 'b'],
      },
    },
    {
      name: 'env',
      description: 'The value of an environment variable of this process',
      inputSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
    },
  ],
}));
server.setRequestHandler(CallToolRequestSchema, async (req) => {
  if (req.params.name === 'env') {
    return { content: [{ type: 'text', text: process.env[String(req.params.arguments?.name)] ?? '(unset)' }] };
  }
  const a = Number(req.params.arguments?.a);
  const b = Number(req.params.arguments?.b);
  return { content: [{ type: 'text', text: String(a + b) }] };
});
await server.connect(new StdioServerTransport());
