import { readFileSync } from 'node:fs';
import { type Static, Type } from 'typebox';
import { Value } from 'typebox/value';
import { parse as parseYaml } from 'yaml';

/**
 * Operator-configured MCP servers that run a program on the host (stdio transport). They exist only in the file
 * named by MCP_SERVERS_FILE, read once at start; an assistant refers to one by name (`precall.mcpServers[].server`).
 * A tenant never chooses a command, its arguments or its environment: the child gets the SDK's minimal environment
 * (PATH, HOME, USER, …) plus only the variables listed in `env`, never the engine's own secrets.
 *
 *   # MCP_SERVERS_FILE (JSON or YAML)
 *   servers:
 *     - name: crm
 *       command: /usr/local/bin/crm-mcp
 *       args: ["--readonly"]
 *       env: [CRM_TOKEN]        # names copied from the engine's environment
 */
export const OperatorMcpServerSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
    command: Type.String({ minLength: 1 }),
    args: Type.Optional(Type.Array(Type.String())),
    /** Environment variable names passed through from the engine's environment. */
    env: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }))),
    cwd: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type OperatorMcpServer = Static<typeof OperatorMcpServerSchema>;

const FileSchema = Type.Object({ servers: Type.Array(OperatorMcpServerSchema) }, { additionalProperties: false });

/** Reads and validates MCP_SERVERS_FILE; throws at start with the file and the first problem. */
export function loadOperatorMcpServers(file: string | undefined): OperatorMcpServer[] {
  if (!file) return [];
  const text = readFileSync(file, 'utf8');
  const doc: unknown = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  const wrapped = Array.isArray(doc) ? { servers: doc } : doc;
  if (!Value.Check(FileSchema, wrapped)) {
    const first = [...Value.Errors(FileSchema, wrapped)][0];
    throw new Error(`MCP_SERVERS_FILE ${file}: ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`);
  }
  const names = new Set<string>();
  for (const s of wrapped.servers) {
    if (names.has(s.name)) throw new Error(`MCP_SERVERS_FILE ${file}: server name ${s.name} appears twice`);
    names.add(s.name);
  }
  return wrapped.servers;
}

/** The child's environment: the SDK's minimal default plus the allowlisted names present in `from`. */
export function operatorServerEnv(
  s: OperatorMcpServer,
  base: Record<string, string>,
  from: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env = { ...base };
  for (const name of s.env ?? []) {
    const v = from[name];
    if (v !== undefined) env[name] = v;
  }
  return env;
}
