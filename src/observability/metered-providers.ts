import type { ProviderRegistry } from '../providers/registry.js';
import type { AsrProvider, LlmProvider, TtsProvider } from '../providers/types.js';
import type { EngineMetrics } from './metrics.js';

/**
 * The provider registry with each request counted by kind and provider (voice_engine_provider_requests_total).
 * Counting happens when a request starts (an ASR stream opens, an LLM completion or a TTS synthesis begins), never
 * per chunk, so the audio path carries no extra work. Errors, retries and fallbacks are counted from the call's
 * incidents (src/observability/index.ts), which the resilience wrapper reports with the provider that failed.
 */
export function meterProviders(registry: ProviderRegistry, metrics: EngineMetrics): ProviderRegistry {
  return {
    catalog: registry.catalog,
    embed: () => registry.embed(),
    asr(cfg, hooks) {
      const p = registry.asr(cfg, hooks);
      const id = cfg?.provider ?? p.id;
      const metered: AsrProvider = {
        id: p.id,
        formats: p.formats,
        open(options, onEvent, signal) {
          metrics.providerRequest('asr', id);
          return p.open(options, onEvent, signal);
        },
      };
      return metered;
    },
    llm(cfg, hooks) {
      const p = registry.llm(cfg, hooks);
      const id = cfg?.provider ?? p.id;
      const metered: LlmProvider = {
        id: p.id,
        stream(request, signal, timing) {
          metrics.providerRequest('llm', id);
          return p.stream(request, signal, timing);
        },
      };
      return metered;
    },
    tts(cfg, hooks) {
      const p = registry.tts(cfg, hooks);
      const id = cfg?.provider ?? p.id;
      const openText = p.openTextStream?.bind(p);
      const metered: TtsProvider = {
        id: p.id,
        formats: p.formats,
        synthesize(request, signal, timing) {
          metrics.providerRequest('tts', id);
          return p.synthesize(request, signal, timing);
        },
        ...(openText
          ? {
              openTextStream(request: Parameters<typeof openText>[0], signal: AbortSignal) {
                metrics.providerRequest('tts', id);
                return openText(request, signal);
              },
            }
          : {}),
      };
      return metered;
    },
  };
}
