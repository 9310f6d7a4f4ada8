import type { AssistantConfig } from '../assistant.js';
import type { Logger } from '../log.js';
import type { ToolSpec } from '../providers/types.js';
import { BUILTIN_TOOLS, defaultBuiltins } from './builtins.js';
import { httpTool } from './http.js';
import { connectMcp, type McpConnection } from './mcp.js';
import type { CallTools, Tool, ToolCatalogEntry, ToolRegistry } from './types.js';

/**
 * The tool registry: built-ins (and tools other parts register) plus, per call, the assistant's HTTP tools and its
 * MCP servers' tools. Name clashes: the first one wins (built-in, then HTTP, then MCP in server order); a later MCP
 * tool with a taken name is offered as `<server>_<name>`.
 */
export function createToolRegistry(): ToolRegistry {
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
      const results = await Promise.allSettled(servers.map((s) => connectMcp(s)));
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
