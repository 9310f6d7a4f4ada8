/**
 * The provider registry: the one factory the engine uses for ASR / LLM / TTS / embeddings, and the catalog.
 * Each factory builds the assistant's chain (primary + fallback) and wraps it in the resilience wrapper.
 *
 * Defaults with no keys: asr offline, llm rules, tts offline. With keys it is still the assistant's choice; the
 * default fallback of a cloud provider ends on the embedded one (tts: elevenlabs -> openai (if configured) ->
 * offline; asr: deepgram -> offline; llm: openai -> rules). An explicit `fallback` list replaces the default.
 * Model / voice settings belong to the primary only: a fallback provider uses its own defaults.
 */
import type { AsrConfig, LlmConfig, TtsConfig } from '../assistant.js';
import type { EngineConfig } from '../config.js';
import type { Logger } from '../log.js';
import { DeepgramAsr } from './asr/deepgram.js';
import { OfflineAsr } from './asr/offline.js';
import { OpenAiAsr } from './asr/openai.js';
import { type Catalog, type CatalogKind, PROVIDERS, ProviderCatalog } from './catalog.js';
import { OpenAiEmbed } from './embed/openai.js';
import { OpenAiLlm } from './llm/openai.js';
import { RulesLlm } from './llm/rules.js';
import {
  type ProviderHooks,
  type ResilienceOptions,
  resilientEmbed,
  resilientLlm,
  resilientTts,
} from './resilience.js';
import { resilientAsr } from './resilient-asr.js';
import { DeepgramTts } from './tts/deepgram.js';
import { ElevenLabsTts } from './tts/elevenlabs.js';
import { OfflineTts } from './tts/offline.js';
import { OpenAiTts } from './tts/openai.js';
import { TTS_SPEED } from './tts/speed.js';
import type { AsrProvider, EmbedProvider, LlmProvider, TtsProvider } from './types.js';

export type { Catalog, ModelInfo, ProviderInfo, VoiceInfo } from './catalog.js';
export type { Incident, ProviderHooks } from './resilience.js';

export interface ProviderRegistry {
  asr(cfg?: AsrConfig, hooks?: ProviderHooks): AsrProvider;
  llm(cfg?: LlmConfig, hooks?: ProviderHooks): LlmProvider;
  tts(cfg?: TtsConfig, hooks?: ProviderHooks): TtsProvider;
  /** OpenAI (or compatible) when OPENAI_API_KEY or OPENAI_BASE_URL is set; none offline. */
  embed(): EmbedProvider | undefined;
  catalog: Catalog;
  /** The provider ids a config resolves to, primary first, then its fallbacks (what tts / asr / llm will try). */
  chain?(kind: CatalogKind, cfg?: { provider?: string; fallback?: string[] }): string[];
}

export interface RegistryOptions {
  /** Timeouts / retry policy (tests shorten them). */
  resilience?: ResilienceOptions;
}

const DEFAULT_PRIMARY: Record<CatalogKind, string> = { asr: 'offline', llm: 'rules', tts: 'offline' };
const DEFAULT_FALLBACK: Record<CatalogKind, Record<string, string[]>> = {
  asr: { deepgram: ['offline'], openai: ['offline'], offline: [] },
  llm: { openai: ['rules'], rules: [] },
  tts: { elevenlabs: ['openai', 'offline'], openai: ['offline'], deepgram: ['offline'], offline: [] },
};

/** Fallback providers get no model / voice from the assistant (those name the primary's models). */
function bareLlm(p: LlmProvider): LlmProvider {
  return { id: p.id, stream: (req, signal, timing) => p.stream({ ...req, model: undefined }, signal, timing) };
}
function bareTts(p: TtsProvider): TtsProvider {
  const out: TtsProvider = {
    id: p.id,
    formats: p.formats,
    synthesize: (req, signal, timing) => p.synthesize({ ...req, model: undefined, voice: undefined }, signal, timing),
  };
  if (p.openTextStream)
    out.openTextStream = (req, signal) => p.openTextStream!({ ...req, model: undefined, voice: undefined }, signal);
  return out;
}
function bareAsr(p: AsrProvider): AsrProvider {
  return {
    id: p.id,
    formats: p.formats,
    capabilities: p.capabilities,
    open: (o, cb, signal) => p.open({ ...o, model: undefined }, cb, signal),
  };
}

/** A configured speed outside a chain member's range is clamped by the adapter; say so once per call. */
function reportSpeed(ids: string[], speed: number | undefined, hooks: ProviderHooks | undefined): void {
  if (speed === undefined || !hooks?.onIncident) return;
  for (const id of ids) {
    const range = TTS_SPEED[id];
    if (!range || (speed >= range.min && speed <= range.max)) continue;
    const to = Math.min(range.max, Math.max(range.min, speed));
    hooks.onIncident({
      kind: 'tts',
      provider: id,
      code: 'bad_request',
      action: 'adjusted',
      attempt: 0,
      message: `tts speed ${speed} is outside ${id}'s range ${range.min}-${range.max}: clamped to ${to}`,
    });
  }
}

export function createProviderRegistry(
  config: EngineConfig,
  logger: Logger,
  options: RegistryOptions = {},
): ProviderRegistry {
  const catalog = new ProviderCatalog(config, logger);
  const { deepgram, openai, elevenlabs } = config.providers;

  /** The chain of provider ids: known, deduplicated; unconfigured providers dropped from the default fallback. */
  function chainIds(kind: CatalogKind, primary: string | undefined, fallback: string[] | undefined): string[] {
    const known = new Set(PROVIDERS[kind].map((p) => p.id));
    let first = primary ?? DEFAULT_PRIMARY[kind];
    if (!known.has(first)) {
      logger.warn({ kind, provider: first }, 'unknown provider; using the embedded default');
      first = DEFAULT_PRIMARY[kind];
    }
    const rest = fallback ?? (DEFAULT_FALLBACK[kind][first] ?? []).filter((id) => catalog.configured(kind, id));
    const ids = [first];
    for (const id of rest) {
      if (!known.has(id)) logger.warn({ kind, provider: id }, 'unknown fallback provider ignored');
      else if (!ids.includes(id)) ids.push(id);
    }
    return ids;
  }

  const resilience = (hooks?: ProviderHooks): ResilienceOptions => ({
    ...options.resilience,
    logger,
    onIncident: (i) => {
      options.resilience?.onIncident?.(i);
      hooks?.onIncident?.(i);
    },
  });

  function asrAdapter(id: string, cfg: AsrConfig): AsrProvider {
    switch (id) {
      case 'deepgram':
        return new DeepgramAsr({ apiKey: deepgram.apiKey, baseUrl: deepgram.baseUrl, model: cfg.model });
      case 'openai':
        return new OpenAiAsr({ apiKey: openai.apiKey, baseURL: openai.baseUrl, model: cfg.model });
      default:
        return new OfflineAsr();
    }
  }

  function llmAdapter(id: string, cfg: LlmConfig): LlmProvider {
    if (id === 'openai')
      return new OpenAiLlm({
        apiKey: openai.apiKey,
        baseURL: openai.baseUrl,
        model: cfg.model,
        reasoningEffort: cfg.reasoningEffort,
      });
    return new RulesLlm({ rules: cfg.rules, fallbackReply: cfg.fallbackReply });
  }

  function ttsAdapter(id: string, cfg: TtsConfig): TtsProvider {
    switch (id) {
      case 'elevenlabs':
        return new ElevenLabsTts({
          apiKey: elevenlabs.apiKey,
          baseUrl: elevenlabs.baseUrl,
          model: cfg.model,
          voice: cfg.voice,
        });
      case 'openai':
        return new OpenAiTts({ apiKey: openai.apiKey, baseURL: openai.baseUrl, model: cfg.model, voice: cfg.voice });
      case 'deepgram':
        return new DeepgramTts({ apiKey: deepgram.apiKey, baseUrl: deepgram.baseUrl, model: cfg.voice ?? cfg.model });
      default:
        return new OfflineTts({ voice: cfg.voice });
    }
  }

  return {
    catalog,
    chain: (kind, cfg = {}) => chainIds(kind, cfg.provider, cfg.fallback),
    asr(cfg = {}, hooks) {
      const ids = chainIds('asr', cfg.provider, cfg.fallback);
      return resilientAsr(
        ids.map((id, i) => (i === 0 ? asrAdapter(id, cfg) : bareAsr(asrAdapter(id, {})))),
        resilience(hooks),
      );
    },
    llm(cfg = {}, hooks) {
      const ids = chainIds('llm', cfg.provider, cfg.fallback);
      // the rules agent keeps the assistant's rules and fallback reply even as a fallback
      return resilientLlm(
        ids.map((id, i) =>
          i === 0
            ? llmAdapter(id, cfg)
            : bareLlm(llmAdapter(id, { rules: cfg.rules, fallbackReply: cfg.fallbackReply })),
        ),
        resilience(hooks),
      );
    },
    tts(cfg = {}, hooks) {
      const ids = chainIds('tts', cfg.provider, cfg.fallback);
      reportSpeed(ids, cfg.speed, hooks);
      return resilientTts(
        ids.map((id, i) => (i === 0 ? ttsAdapter(id, cfg) : bareTts(ttsAdapter(id, {})))),
        resilience(hooks),
      );
    },
    embed() {
      if (!catalog.configured('embed', 'openai')) return undefined;
      return resilientEmbed(new OpenAiEmbed({ apiKey: openai.apiKey, baseURL: openai.baseUrl }), resilience());
    },
  };
}
