import type { AssistantConfig, McpServerConfig } from '../assistant.js';
import type { Logger } from '../log.js';
import type { ToolSpec } from '../providers/types.js';
import { BUILTIN_TOOLS, defaultBuiltins } from './builtins.js';
import { httpTool } from './http.js';
import { connectMcp, type McpConnection, type McpTarget } from './mcp.js';
import type { OperatorMcpServer } from './mcp-servers.js';
import type { CallTools, Tool, ToolCatalogEntry, ToolRegistry } from './types.js';

/**
 * The tool registry: built-ins (and tools other parts register) plus, per call, the assistant's HTTP tools and its
 * MCP servers' tools. Name clashes: the first one wins (built-in, then HTTP, then MCP in server order); a later MCP
 * tool with a taken name is offered as `<server>_<name>`.
 */
export function createToolRegistry(opts: { mcpServers?: readonly OperatorMcpServer[] } = {}): ToolRegistry {
  const operator = new Map((opts.mcpServers ?? []).map((s) => [s.name, s]));
  const builtins = new Map<string, Tool>();
  for (const t of BUILTIN_TOOLS) builtins.set(t.name, t);

  return {
    register(tool) {
      builtins.set(tool.name, tool);
    },
    catalog(): ToolCatalogEntry[] {
      return [...builtins.values()].map((t) => ({
        kind: 'builtin',
        name: t.name,
        description: t.description,
        parameters: t.parameters,
      }));
    },
    async forCall(config: AssistantConfig, logger: Logger, onIssue): Promise<CallTools> {
      const tools = new Map<string, Tool>();
      const enabled =
        config.tools?.builtins ??
        defaultBuiltins(
          (config.hangup?.transferTargets?.length ?? 0) > 0,
          (config.rag?.collections?.length ?? 0) > 0 && config.rag?.mode !== 'automatic',
        );
      for (const name of enabled) {
        const t = builtins.get(name);
        if (t) tools.set(name, t);
        else logger.warn({ tool: name }, 'unknown built-in tool');
      }
      for (const h of config.tools?.http ?? []) {
        if (!tools.has(h.name)) tools.set(h.name, httpTool(h));
      }
      const connections: McpConnection[] = [];
      const servers = config.precall?.mcpServers ?? [];
      const results = await Promise.allSettled(servers.map(async (s) => connectMcp(mcpTarget(s, operator))));
      results.forEach((r, i) => {
        const server = servers[i]!;
        if (r.status === 'rejected') {
          logger.warn({ server: server.name, err: (r.reason as Error).message }, 'MCP server unavailable');
          onIssue?.(`mcp:${server.name}`, r.reason);
          return;
        }
        connections.push(r.value);
        for (const t of r.value.tools) {
          const name = tools.has(t.name)
            ? `${server.name}_${t.name}`.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64)
            : t.name;
          if (!tools.has(name)) tools.set(name, name === t.name ? t : { ...t, name, run: t.run });
        }
      });
      const specs: ToolSpec[] = [...tools.values()].map((t) => ({
        name: t.name,
        description: t.description,
        parameters: t.parameters,
      }));
      let closed = false;
      return {
        specs: () => specs,
        get: (name) => tools.get(name),
        async close() {
          if (closed) return;
          closed = true;
          await Promise.allSettled(connections.map((c) => c.close()));
        },
      };
    },
  };
}

/**
 * What an assistant's MCP entry may reach: an operator server by name, or an HTTP URL. Anything else, notably a
 * `transport: "stdio"` entry with a command stored before the API refused them, is refused here too: no program
 * named by tenant data is ever started.
 */
function mcpTarget(s: McpServerConfig, operator: ReadonlyMap<string, OperatorMcpServer>): McpTarget {
  const transport: string = s.transport ?? 'http';
  if (s.server !== undefined) {
    const server = operator.get(s.server);
    if (!server) throw new Error(`MCP server ${s.name}: no operator-configured server named ${s.server}`);
    return { kind: 'operator', name: s.name, server, ...(s.tools ? { tools: s.tools } : {}) };
  }
  if (transport !== 'http') {
    throw new Error(`MCP server ${s.name}: transport ${transport} is operator configuration only (MCP_SERVERS_FILE)`);
  }
  if (!s.url) throw new Error(`MCP server ${s.name}: url is required for the http transport`);
  return {
    kind: 'http',
    name: s.name,
    url: s.url,
    ...(s.headers ? { headers: s.headers } : {}),
    ...(s.tools ? { tools: s.tools } : {}),
  };
}
