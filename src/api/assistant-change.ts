import type { Assistant, AssistantConfig } from '../assistant.js';
import { EngineError, type ErrorCode } from '../errors.js';
import { normalizeNumber } from '../store/index.js';
import type { RouteDeps } from './deps.js';
import { assertAssistantEgress } from './egress-check.js';
import { e164 } from './phone-number.js';

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

/**
 * References the request adds, checked when it arrives (422 naming the field): knowledge-base collections must
 * exist for this tenant, numbers (transfer targets, blocked numbers) must be E.164 (a transfer target may also be a
 * SIP URI), and a TTS voice given by its display name is stored as the provider's voice id. Only what changed from
 * `prev` is checked, so an assistant whose collection was deleted later can still be edited elsewhere.
 */
export async function resolveReferences(
  deps: RouteDeps,
  tenantId: string,
  next: AssistantConfig,
  prev: AssistantConfig = {},
): Promise<AssistantConfig> {
  const had = new Set(prev.rag?.collections ?? []);
  const added = (next.rag?.collections ?? []).filter((c) => !had.has(c));
  if (added.length > 0 && deps.knowledge) {
    const known = new Set((await deps.knowledge.listCollections(tenantId)).map((c) => c.name));
    const i = (next.rag?.collections ?? []).findIndex((c) => added.includes(c) && !known.has(c));
    if (i >= 0) {
      const name = next.rag!.collections![i]!;
      throw new EngineError(
        'UNKNOWN_COLLECTION',
        `rag.collections.${i}: no collection '${name}' in this account (upload a document to it first)`,
        [
          {
            in: 'body',
            field: `rag.collections.${i}`,
            instancePath: `/rag/collections/${i}`,
            message: 'unknown collection',
          },
        ],
      );
    }
  }
  (next.hangup?.transferTargets ?? []).forEach((t, i) => {
    if (t.number !== prev.hangup?.transferTargets?.[i]?.number && !/^sips?:/i.test(t.number)) {
      e164(`hangup.transferTargets.${i}.number`, t.number);
    }
  });
  const redirect = next.hangup?.redirect;
  if (redirect && redirect !== prev.hangup?.redirect && !/^sips?:[^\s@]+@[^\s@]+$/i.test(redirect)) {
    // Carried out through the platform's transfer (src/call/ending.ts): a number or a SIP URI, never a URL.
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(redirect)) {
      throw new EngineError(
        'UNPROCESSABLE',
        'hangup.redirect: a URL cannot be dialed; give a number (E.164) or a SIP URI',
        [
          {
            in: 'body',
            field: 'hangup.redirect',
            instancePath: '/hangup/redirect',
            message: 'not a number or SIP URI',
          },
        ],
      );
    }
    e164('hangup.redirect', redirect);
  }
  const blocked = prev.precall?.numberValidation?.blockedNumbers ?? [];
  (next.precall?.numberValidation?.blockedNumbers ?? []).forEach((n, i) => {
    if (!blocked.includes(n)) e164(`precall.numberValidation.blockedNumbers.${i}`, normalizeNumber(n));
  });
  return resolveVoice(deps, next, prev);
}

/** A voice named by its display name ("Rachel") becomes the provider's voice id; an unknown name stays for the catalog check. */
async function resolveVoice(deps: RouteDeps, next: AssistantConfig, prev: AssistantConfig): Promise<AssistantConfig> {
  const voice = next.tts?.voice;
  const catalog = deps.providers?.catalog;
  if (!voice || !catalog || voice === prev.tts?.voice) return next;
  const voices = (await catalog.voices(next.tts?.provider ?? 'offline')) as Array<{ id: string; name?: string }>;
  if (voices.some((v) => v.id === voice)) return next;
  const byName = voices.filter((v) => v.name?.toLowerCase() === voice.toLowerCase());
  if (byName.length > 1) {
    throw new EngineError('UNKNOWN_VOICE', `tts.voice '${voice}' names ${byName.length} voices: give the voice id`, {
      kind: 'tts',
      field: 'tts.voice',
      candidates: byName.map((v) => v.id),
    });
  }
  return byName.length === 1 ? { ...next, tts: { ...next.tts, voice: byName[0]!.id } } : next;
}

/** Validates, stores (bumping the version) and tells live calls on this process; other processes poll the version. */
export async function saveAssistant(
  deps: RouteDeps,
  assistant: Assistant,
  next: AssistantConfig,
  kinds?: ReadonlyArray<'asr' | 'llm' | 'tts'>,
): Promise<Assistant> {
  const resolved = await resolveReferences(deps, assistant.tenantId, next, assistant.config);
  await validateAgainstCatalog(deps, resolved, kinds);
  const saved = await deps.store.assistants.update(assistant.tenantId, assistant.id, resolved);
  if (!saved) throw new EngineError('ASSISTANT_NOT_FOUND');
  deps.live?.applyAssistantChange?.(saved.id);
  return saved;
}

/** Which provider kinds a patch touches. */
export function kindsIn(patch: object): Array<'asr' | 'llm' | 'tts'> {
  return PROVIDER_KINDS.filter((k) => k in patch);
}
