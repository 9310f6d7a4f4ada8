import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastToolResult } from '../../bench/scripted.js';
import { type McpTestServer, startMcpServer } from '../tools/mcp-server.js';
import { harnessPerTest, slowBalanceTool, startSlowBalanceBackend } from './harness.js';

let slow: Awaited<ReturnType<typeof startSlowBalanceBackend>>;
let mcp: McpTestServer;

beforeAll(async () => {
  slow = await startSlowBalanceBackend();
  mcp = await startMcpServer();
});
afterAll(async () => {
  await slow.close();
  await mcp.close();
});

const h = harnessPerTest();

describe('tools in a call', () => {
  it('a slow HTTP tool: the filler is spoken, then the answer uses the result; the call record has the tool call', async () => {
    const scenario = slowBalanceTool(slow.url);
    const x = h({ ...scenario, llm: { ...scenario.llm, firstTokenMs: 10 }, tts: { msPerChar: 3 } });
    await x.session.start();
    await x.leg.caller('speech', 400);
    await x.leg.caller('silence', 300);
    await x.until(() => x.tts.texts.some((t) => t.includes('42.50')) && x.session.state === 'listening', 'answer');
    const filler = x.tts.texts.indexOf('Let me check that for you.');
    const answer = x.tts.texts.findIndex((t) => t.includes('42.50'));
    expect(filler).toBeGreaterThanOrEqual(0);
    expect(filler).toBeLessThan(answer);
    const tools = x.sink.of('tool');
    expect(tools[0]).toMatchObject({ name: 'get_balance', filler: 'Let me check that for you.' });
    expect(tools[1]).toMatchObject({
      name: 'get_balance',
      ok: true,
      arguments: { account: '123' },
      result: '{"balance":"42.50"}',
    });
    // The model saw its tool call and the result in the history.
    const second = x.llm.requests[1]!.messages;
    expect(second.at(-2)).toMatchObject({ role: 'assistant', toolCalls: [{ name: 'get_balance' }] });
    expect(second.at(-1)).toMatchObject({ role: 'tool', name: 'get_balance', content: '{"balance":"42.50"}' });
    expect(x.sink.of('turn')[0]!.tools).toEqual(['get_balance']);
  });

  it('an MCP tool from a loopback MCP server is offered to the LLM and called', async () => {
    const x = h({
      config: { precall: { mcpServers: [{ name: 'orders', transport: 'http', url: mcp.url }] } },
      asr: { script: ['where is my order A17'] },
      llm: {
        respond: (m) => {
          const r = lastToolResult(m);
          if (r) return [{ text: `Your order is ${JSON.parse(r).status}.` }];
          return [{ tool: 'lookup_order', args: { order: 'A17' } }];
        },
        firstTokenMs: 10,
      },
      tts: { msPerChar: 3 },
    });
    await x.session.start();
    await x.leg.caller('speech', 400);
    await x.leg.caller('silence', 300);
    await x.until(() => x.tts.texts.some((t) => t.includes('shipped')), 'answer');
    expect(x.llm.requests[0]!.tools?.map((t) => t.name)).toContain('lookup_order');
    expect(mcp.calls.at(-1)).toEqual({ name: 'lookup_order', args: { order: 'A17' } });
    expect(x.sink.of('tool').at(-1)).toMatchObject({ name: 'lookup_order', ok: true });
  });
});
