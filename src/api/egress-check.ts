import type { AssistantConfig } from '../assistant.js';
import { EngineError } from '../errors.js';
import { checkHost, checkUrl, type EgressPolicy } from '../net/policy.js';

/**
 * Configuration-time SSRF check (src/net/policy.ts) for tenant-supplied URLs: a clear 422 naming the field, so a
 * tenant learns at save time, not at the first failed webhook or dial. The guarded fetch still checks the resolved
 * address at connect time (names are not resolved here).
 */
export function assertEgressUrl(field: string, value: unknown, policy: EgressPolicy): void {
  const why = typeof value === 'string' ? checkUrl(value, policy) : 'must be a URL string';
  if (why) refuse(field, why);
}

/** The same for a bare host name or IP (FreeSWITCH Event Socket host). */
export function assertEgressHost(field: string, value: unknown, policy: EgressPolicy): void {
  const why = typeof value === 'string' ? checkHost(value, policy) : 'must be a host name';
  if (why) refuse(field, why);
}

function refuse(field: string, why: string): never {
  throw new EngineError('UNPROCESSABLE', `${field}: ${why}`, [
    // JSON pointer of the field: tools.http[0].url -> /tools/http/0/url
    { in: 'body', field, instancePath: `/${field.replace(/\[(\d+)\]/g, '.$1').replaceAll('.', '/')}`, message: why },
  ]);
}

/** `{{arg}}` placeholders (HTTP tool templates) stand for a name here: the literal parts are what can be judged. */
const TEMPLATE = /\{\{[^}]*\}\}/g;

/**
 * The assistant document's outbound URLs: HTTP tools (tools.http[].url) and HTTP MCP servers
 * (precall.mcpServers[].url). Only the configuration-time check: the requests themselves are made by src/tools.
 */
export function assertAssistantEgress(cfg: AssistantConfig, policy: EgressPolicy): void {
  for (const [i, t] of (cfg.tools?.http ?? []).entries()) {
    assertEgressUrl(`tools.http[${i}].url`, t.url.replace(TEMPLATE, 'x'), policy);
  }
  for (const [i, s] of (cfg.precall?.mcpServers ?? []).entries()) {
    if (s.server === undefined && s.url !== undefined) assertEgressUrl(`precall.mcpServers[${i}].url`, s.url, policy);
  }
}
