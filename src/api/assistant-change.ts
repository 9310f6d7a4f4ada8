import type { Assistant, AssistantConfig } from '../assistant.js';
import { EngineError, type ErrorCode } from '../errors.js';
import type { RouteDeps } from './app.js';
import { assertAssistantEgress } from './egress-check.js';

const PROVIDER_KINDS = ['asr', 'llm', 'tts'] as const;

/** PATCH semantics: top-level fields replace; runtime blocks (objects) merge one level deep. */
export function mergeConfig(cur: AssistantConfig, patch: Partial<AssistantConfig>): AssistantConfig {
  const out: Record<string, unknown> = { ...cur };
  for (const [k, v] of Object.entries(patch)) {
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? { ...(prev as object), ...(v as object) }
        : v;
  }
  return out as AssistantConfig;
}

/**
 * Checks provider / model / voice names against the live catalog (422 naming the unknown one). Only the blocks in
 * `kinds` are checked, so an assistant saved before a provider was removed can still be edited elsewhere.
 */
export async function validateAgainstCatalog(
  deps: RouteDeps,
  cfg: AssistantConfig,
  kinds: ReadonlyArray<'asr' | 'llm' | 'tts'> = PROVIDER_KINDS,
): Promise<void> {
  assertAssistantEgress(cfg, deps.config.egress);
  assertMcpServersKnown(cfg, deps.config.mcpServers ?? []);
  const catalog = deps.providers?.catalog;
  if (!catalog) return;
  for (const kind of kinds) {
    const block = cfg[kind];
    if (!block) continue;
    const msg = await catalog.validate(kind, block as never);
    if (msg) {
      // The catalog's message names what is unknown; its first noun says which code (provider, model or voice).
      const what = /\b(provider|model|voice)\b/i.exec(msg)?.[1]?.toLowerCase();
      const code: ErrorCode =
        what === 'voice' ? 'UNKNOWN_VOICE' : what === 'model' ? 'UNKNOWN_MODEL' : 'UNKNOWN_PROVIDER';
      throw new EngineError(code, msg, { kind, field: `${kind}.${what ?? 'provider'}` });
    }
  }
}

/** `precall.mcpServers[].server` names an operator server (MCP_SERVERS_FILE); an HTTP entry needs its url. */
function assertMcpServersKnown(cfg: AssistantConfig, operator: ReadonlyArray<{ name: string }>): void {
  for (const [i, s] of (cfg.precall?.mcpServers ?? []).entries()) {
    const field = `precall.mcpServers[${i}]`;
    if (s.server !== undefined) {
      if (!operator.some((o) => o.name === s.server)) {
        throw new EngineError('UNKNOWN_MCP_SERVER', `${field}.server: no MCP server named ${s.server} is configured`, {
          field: `${field}.server`,
        });
      }
      if (s.url !== undefined) {
        throw new EngineError('UNPROCESSABLE', `${field}: give either server or url, not both`, { field });
      }
    } else if (s.url === undefined) {
      throw new EngineError('UNPROCESSABLE', `${field}.url: an MCP server needs a url or an operator server name`, {
        field: `${field}.url`,
      });
    }
  }
}

/** Validates, stores (bumping the version) and tells live calls on this process; other processes poll the version. */
export async function saveAssistant(
  deps: RouteDeps,
  assistant: Assistant,
  next: AssistantConfig,
  kinds?: ReadonlyArray<'asr' | 'llm' | 'tts'>,
): Promise<Assistant> {
  await validateAgainstCatalog(deps, next, kinds);
  const saved = await deps.store.assistants.update(assistant.tenantId, assistant.id, next);
  if (!saved) throw new EngineError('ASSISTANT_NOT_FOUND');
  deps.live?.applyAssistantChange?.(saved.id);
  return saved;
}

/** Which provider kinds a patch touches. */
export function kindsIn(patch: object): Array<'asr' | 'llm' | 'tts'> {
  return PROVIDER_KINDS.filter((k) => k in patch);
}
