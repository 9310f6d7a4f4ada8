import type { FastifyRequest } from 'fastify';
import { EngineError } from '../errors.js';

/**
 * Tenants never choose a program for the host to run (SECURITY.md, "Host, files and crashes"). Any API body that
 * carries MCP servers (`mcpServers` at any depth: the mcp-config route, `precall`, a whole assistant config) is
 * refused with 422 MCP_COMMAND_NOT_ALLOWED naming the field when an entry asks for the stdio transport or names a
 * command. Run before schema validation so the refusal is this specific code, not a generic unknown-field 400.
 * Programs are operator configuration (MCP_SERVERS_FILE) that an assistant references by `server` name.
 */
const MAX_DEPTH = 4;

export async function refuseTenantCommands(request: FastifyRequest): Promise<void> {
  const body = request.body;
  if (body && typeof body === 'object') scan(body as Record<string, unknown>, '', 0);
}

function scan(node: Record<string, unknown>, path: string, depth: number): void {
  for (const [key, value] of Object.entries(node)) {
    const here = path ? `${path}.${key}` : key;
    if (key === 'mcpServers' && Array.isArray(value)) {
      for (const [i, entry] of value.entries()) checkEntry(entry, `${here}[${i}]`);
    } else if (value && typeof value === 'object' && !Array.isArray(value) && depth < MAX_DEPTH) {
      scan(value as Record<string, unknown>, here, depth + 1);
    }
  }
}

function checkEntry(entry: unknown, field: string): void {
  if (!entry || typeof entry !== 'object') return;
  const e = entry as Record<string, unknown>;
  const bad = e.transport === 'stdio' ? 'transport' : 'command' in e ? 'command' : 'args' in e ? 'args' : undefined;
  if (!bad) return;
  throw new EngineError(
    'MCP_COMMAND_NOT_ALLOWED',
    `${field}.${bad}: tenant MCP servers are HTTP(S) only; a program on the host is operator configuration ` +
      '(MCP_SERVERS_FILE), referenced by "server": "<name>"',
    { field: `${field}.${bad}` },
  );
}
