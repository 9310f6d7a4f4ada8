/**
 * The provider catalog (what `/api/v1/catalog/providers/...` serves): which providers exist, whether they are
 * configured, their audio formats, languages, models and voices. Live listings where the provider's API has one
 * (OpenAI GET /v1/models, ElevenLabs GET /v1/voices), cached for 5 minutes; curated lists otherwise or when the
 * live call fails.
 */
import { ElevenLabsClient } from '@elevenlabs/elevenlabs-js';
import { type AudioFormat, formatName, MULAW_8K, PCM_8K, PCM_16K, PCM_24K, pcmFormat } from '../audio/format.js';
import type { EngineConfig } from '../config.js';
import type { Logger } from '../log.js';
import { offlineAsrAvailable } from './asr/offline.js';
import { openAiClient } from './openai-client.js';
import { FLITE_VOICES } from './tts/offline.js';
import { OPENAI_TTS_VOICES } from './tts/openai.js';
import { type SpeedRange, TTS_SPEED } from './tts/speed.js';
import { which } from './which.js';

export type CatalogKind = 'asr' | 'llm' | 'tts';

export interface ProviderInfo {
  id: string;
  kind: CatalogKind;
  name: string;
  /** Key (or base URL) present: the provider can be used. */
  configured: boolean;
  /** Runs with no network. */
  offline: boolean;
  /** Audio formats handled natively, e.g. "mulaw_8000", best first (empty for LLMs). */
  formats: string[];
  languages: string[];
  /** TTS: the speaking-rate range the service accepts (a configured speed outside it is clamped, with an incident). */
  speed?: SpeedRange;
  /** Options and streaming features this engine uses with the provider (capabilities as data). */
  features?: string[];
  note?: string;
}

export interface ModelInfo {
  id: string;
  provider: string;
  kind: CatalogKind;
  /** 'live' when listed by the provider's API just now, 'curated' from this file. */
  source: 'live' | 'curated';
}

export interface VoiceInfo {
  id: string;
  name: string;
  provider: string;
  language?: string;
  gender?: string;
  source: 'live' | 'curated';
}

export interface Catalog {
  providers(kind: CatalogKind): Promise<ProviderInfo[]>;
  models(kind: CatalogKind, provider?: string): Promise<ModelInfo[]>;
  voices(provider?: string): Promise<VoiceInfo[]>;
  /** null when the config names known providers / models / voices, else a message naming the unknown one. */
  validate(
    kind: CatalogKind,
    cfg: { provider?: string; model?: string; voice?: string; fallback?: string[] },
  ): Promise<string | null>;
}

interface ProviderSpec {
  id: string;
  name: string;
  offline: boolean;
  formats: AudioFormat[];
  languages: string[];
  models: string[];
  /** Any model name is accepted (OpenAI-compatible servers name their own). */
  openModels?: boolean;
  features?: string[];
  note?: string;
}

const EN = ['en'];
/** Features of the incremental-text path (TtsProvider.openTextStream), which calls use for replies. */
const INCREMENTAL = 'incremental text (openTextStream): ';
const INCREMENTAL_NOTE =
  'calls stream each reply over the WebSocket as it is generated (one text stream per reply, each clause pushed ' +
  'and flushed as the LLM writes it); uninterruptible text and cached greetings go per clause over HTTP; a stream ' +
  'that fails falls back through the chain with the words not yet spoken';
const MANY = ['multi', 'en', 'es', 'fr', 'de', 'it', 'pt', 'nl', 'hi', 'ja', 'ko', 'zh', 'ru', 'pl', 'tr', 'sv'];

export const PROVIDERS: Record<CatalogKind, ProviderSpec[]> = {
  asr: [
    {
      id: 'deepgram',
      name: 'Deepgram (live streaming)',
      offline: false,
      formats: [MULAW_8K, PCM_16K, PCM_8K],
      languages: MANY,
      models: [
        'nova-3',
        'nova-3-medical',
        'nova-2',
        'nova-2-phonecall',
        'enhanced',
        'base',
        'flux-general-en',
        'flux-general-multi',
      ],
      features: [
        'keyterm (one query parameter per term)',
        'utterance_end_ms (bounded 1000-5000)',
        'finalizeDelayMs: Finalize held and dropped when speech goes on',
        'flux-* models: /v2/listen, end of turn decided by the model (capabilities.endOfTurn)',
        'flux-* models: eager_end_of_turn / turn_resumed events for preemptive generation',
      ],
    },
    {
      id: 'openai',
      name: 'OpenAI transcription (Realtime streaming; per utterance on compatible servers)',
      offline: false,
      formats: [PCM_16K, PCM_8K, MULAW_8K],
      languages: MANY,
      models: ['gpt-4o-mini-transcribe', 'gpt-4o-transcribe', 'gpt-4o-transcribe-diarize', 'whisper-1'],
      openModels: true,
      features: [
        'Realtime API transcription (/v1/realtime?intent=transcription): server VAD, audio/pcmu (g711_ulaw)',
        'upload per utterance on compatible servers: our VAD, streamed deltas as partials (gpt-4o*)',
        'keyterms as prompt (not for gpt-4o-transcribe-diarize)',
      ],
    },
    {
      id: 'offline',
      name: 'PocketSphinx (embedded, demo grade)',
      offline: true,
      formats: [PCM_16K, PCM_8K, MULAW_8K],
      languages: EN,
      models: ['pocketsphinx-en-us'],
      note: 'good on clear synthetic speech, poor on 8 kHz phone audio',
    },
  ],
  llm: [
    {
      id: 'openai',
      name: 'OpenAI chat completions (and compatible servers)',
      offline: false,
      formats: [],
      languages: MANY,
      models: [
        'gpt-4o-mini',
        'gpt-4o',
        'gpt-4.1-mini',
        'gpt-4.1',
        'gpt-4.1-nano',
        'gpt-5',
        'gpt-5-mini',
        'gpt-5-nano',
        'o4-mini',
      ],
      openModels: true,
      features: [
        'reasoning models (gpt-5, o-series): reasoningEffort sent, temperature never sent',
        'prompt_cache_key per system prompt (api.openai.com)',
      ],
    },
    {
      id: 'rules',
      name: 'Rules agent (deterministic, not a language model)',
      offline: true,
      formats: [],
      languages: ['any'],
      models: ['rules'],
      note: 'keyword / regex / DTMF rules, knowledge-base answers',
    },
  ],
  tts: [
    {
      id: 'elevenlabs',
      name: 'ElevenLabs',
      offline: false,
      formats: [MULAW_8K, PCM_16K, PCM_24K, PCM_8K],
      languages: MANY,
      models: ['eleven_flash_v2_5', 'eleven_turbo_v2_5', 'eleven_multilingual_v2', 'eleven_v3'],
      features: [
        'previous_text / next_text on per-clause HTTP requests (with-timestamps route)',
        'word timings from alignment on both routes (AudioChunk.words): exact truncation on barge-in',
        'speed clamped into 0.7-1.2 (out of range gives no audio on the WebSocket)',
        `${INCREMENTAL}multi-context WebSocket (multi-stream-input): one socket per call, one context per reply, close_context on barge-in`,
        `${INCREMENTAL}flush at clause ends, chunk_length_schedule [50,120,160,250], text chunks end with a space`,
      ],
      note: INCREMENTAL_NOTE,
    },
    {
      id: 'openai',
      name: 'OpenAI speech',
      offline: false,
      formats: [PCM_24K],
      languages: MANY,
      models: ['gpt-4o-mini-tts', 'tts-1', 'tts-1-hd'],
      openModels: true,
      features: [`voices: ${OPENAI_TTS_VOICES.join(', ')}`, 'pcm 24 kHz streamed'],
    },
    {
      id: 'deepgram',
      name: 'Deepgram Aura',
      offline: false,
      formats: [MULAW_8K, PCM_8K, PCM_16K, PCM_24K],
      languages: ['en', 'es'],
      models: ['aura-2', 'aura'],
      features: [
        'speed (Aura-2, 0.7-1.5)',
        'container=none on per-clause HTTP requests (no WAV header per clause)',
        `${INCREMENTAL}speak WebSocket (/v1/speak): one socket per call, Flush per clause, Clear on barge-in`,
        'no word timings: truncation on barge-in is the played-sample estimate',
      ],
      note: INCREMENTAL_NOTE,
    },
    {
      id: 'offline',
      name: 'flite / espeak-ng (embedded)',
      offline: true,
      formats: [PCM_16K, pcmFormat(22050)],
      languages: ['en', 'multi (espeak-ng)'],
      models: ['flite', 'espeak-ng'],
      note: 'espeak-ng wasm is GPL-3.0',
    },
  ],
};

const CURATED_VOICES: VoiceInfo[] = [
  {
    id: '21m00Tcm4TlvDq8ikWAM',
    name: 'Rachel',
    provider: 'elevenlabs',
    language: 'en',
    gender: 'female',
    source: 'curated',
  },
  {
    id: 'pNInz6obpgDQGcFmaJgB',
    name: 'Adam',
    provider: 'elevenlabs',
    language: 'en',
    gender: 'male',
    source: 'curated',
  },
  {
    id: 'EXAVITQu4vr4xnSDxMaL',
    name: 'Sarah',
    provider: 'elevenlabs',
    language: 'en',
    gender: 'female',
    source: 'curated',
  },
  {
    id: 'JBFqnCBsd6RMkjVDRZzb',
    name: 'George',
    provider: 'elevenlabs',
    language: 'en',
    gender: 'male',
    source: 'curated',
  },
  ...OPENAI_TTS_VOICES.map((v) => ({ id: v, name: v, provider: 'openai', source: 'curated' as const })),
  ...['thalia', 'andromeda', 'helena', 'apollo', 'arcas', 'aries', 'asteria', 'luna', 'orion', 'zeus'].map((v) => ({
    id: `aura-2-${v}-en`,
    name: v[0]!.toUpperCase() + v.slice(1),
    provider: 'deepgram',
    language: 'en',
    source: 'curated' as const,
  })),
  ...FLITE_VOICES.map((v) => ({
    id: v,
    name: `flite ${v}`,
    provider: 'offline',
    language: 'en',
    source: 'curated' as const,
  })),
  ...['en-us', 'en-gb', 'es', 'fr', 'de', 'it', 'pt', 'nl', 'hi'].map((v) => ({
    id: `espeak:${v}`,
    name: `espeak-ng ${v}`,
    provider: 'offline',
    language: v,
    source: 'curated' as const,
  })),
];

const TTL_MS = 5 * 60_000;

export class ProviderCatalog implements Catalog {
  private cache = new Map<string, { at: number; value: Promise<unknown> }>();

  constructor(
    private readonly config: EngineConfig,
    private readonly logger: Logger,
  ) {}

  configured(kind: CatalogKind | 'embed', id: string): boolean {
    const p = this.config.providers;
    switch (id) {
      case 'deepgram':
        return Boolean(p.deepgram.apiKey);
      case 'openai':
        return Boolean(p.openai.apiKey || p.openai.baseUrl);
      case 'elevenlabs':
        return Boolean(p.elevenlabs.apiKey);
      case 'rules':
        return kind === 'llm';
      case 'offline':
        return kind === 'asr' || kind === 'tts';
      default:
        return false;
    }
  }

  private cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.cache.get(key);
    if (hit && performance.now() - hit.at < TTL_MS) return hit.value as Promise<T>;
    const value = load();
    this.cache.set(key, { at: performance.now(), value });
    value.catch(() => this.cache.delete(key));
    return value;
  }

  async providers(kind: CatalogKind): Promise<ProviderInfo[]> {
    const out: ProviderInfo[] = [];
    for (const s of PROVIDERS[kind] ?? []) {
      let configured = this.configured(kind, s.id);
      let note = s.note;
      if (s.id === 'offline' && kind === 'asr') {
        configured = await offlineAsrAvailable();
        if (!configured) note = 'not installed: apt-get install pocketsphinx pocketsphinx-en-us';
      }
      if (s.id === 'offline' && kind === 'tts' && !(await which('flite')))
        note = 'flite not installed: using espeak-ng wasm (GPL-3.0)';
      out.push({
        id: s.id,
        kind,
        name: s.name,
        configured,
        offline: s.offline,
        formats: s.formats.map(formatName),
        languages: s.languages,
        ...(kind === 'tts' && TTS_SPEED[s.id] ? { speed: TTS_SPEED[s.id] } : {}),
        ...(s.features ? { features: s.features } : {}),
        ...(note ? { note } : {}),
      });
    }
    return out;
  }

  private async openAiModels(): Promise<string[]> {
    const o = this.config.providers.openai;
    return this.cached('openai:models', async () => {
      const client = openAiClient({ apiKey: o.apiKey, baseURL: o.baseUrl, timeoutMs: 5000 });
      if (!client) return [];
      const ids: string[] = [];
      for await (const m of client.models.list()) ids.push(m.id);
      return ids;
    });
  }

  async models(kind: CatalogKind, provider?: string): Promise<ModelInfo[]> {
    const out: ModelInfo[] = [];
    for (const s of PROVIDERS[kind] ?? []) {
      if (provider && s.id !== provider) continue;
      if (s.id === 'openai' && this.configured(kind, 'openai')) {
        try {
          const all = await this.openAiModels();
          const mine = all.filter((id) =>
            kind === 'asr'
              ? /whisper|transcribe/.test(id)
              : kind === 'tts'
                ? /tts/.test(id)
                : !/whisper|transcribe|tts|embedding|dall-e|moderation|image|audio|realtime/.test(id),
          );
          out.push(...mine.map((id) => ({ id, provider: s.id, kind, source: 'live' as const })));
          continue;
        } catch (err) {
          this.logger.warn(
            { provider: 'openai', err: (err as Error).message },
            'live model list failed; using the curated list',
          );
        }
      }
      out.push(...s.models.map((id) => ({ id, provider: s.id, kind, source: 'curated' as const })));
    }
    return out;
  }

  async voices(provider?: string): Promise<VoiceInfo[]> {
    const out: VoiceInfo[] = [];
    const el = this.config.providers.elevenlabs;
    let liveEleven = false;
    if ((!provider || provider === 'elevenlabs') && el.apiKey) {
      try {
        const voices = await this.cached('elevenlabs:voices', async () => {
          const client = new ElevenLabsClient({
            apiKey: el.apiKey,
            baseUrl: el.baseUrl,
            maxRetries: 0,
            timeoutInSeconds: 5,
          });
          const res = await client.voices.getAll();
          return res.voices.map((v) => ({
            id: v.voiceId,
            name: v.name ?? v.voiceId,
            provider: 'elevenlabs',
            language: v.labels?.language ?? v.labels?.accent,
            gender: v.labels?.gender,
            source: 'live' as const,
          }));
        });
        out.push(...voices);
        liveEleven = true;
      } catch (err) {
        this.logger.warn(
          { provider: 'elevenlabs', err: (err as Error).message },
          'live voice list failed; using the curated list',
        );
      }
    }
    for (const v of CURATED_VOICES) {
      if (provider && v.provider !== provider) continue;
      if (v.provider === 'elevenlabs' && liveEleven) continue;
      out.push(v);
    }
    return out;
  }

  async validate(
    kind: CatalogKind,
    cfg: { provider?: string; model?: string; voice?: string; fallback?: string[] },
  ): Promise<string | null> {
    const specs = PROVIDERS[kind] ?? [];
    for (const id of [cfg.provider, ...(cfg.fallback ?? [])]) {
      if (id !== undefined && !specs.some((s) => s.id === id)) {
        return `unknown ${kind} provider '${id}' (known: ${specs.map((s) => s.id).join(', ')})`;
      }
    }
    const spec = specs.find((s) => s.id === (cfg.provider ?? (kind === 'llm' ? 'rules' : 'offline')))!;
    if (cfg.model && !spec.openModels && !(kind === 'tts' && spec.id === 'deepgram')) {
      const known = (await this.models(kind, spec.id)).map((m) => m.id);
      if (!known.includes(cfg.model))
        return `unknown ${kind} model '${cfg.model}' for provider '${spec.id}' (known: ${known.join(', ')})`;
    }
    if (cfg.voice && kind === 'tts') {
      const voices = await this.voices(spec.id);
      const ok =
        voices.some((v) => v.id === cfg.voice || v.name.toLowerCase() === cfg.voice!.toLowerCase()) ||
        (spec.id === 'deepgram' && /^aura-[\w-]+$/.test(cfg.voice)) ||
        (spec.id === 'offline' && /^espeak:[\w-]+$/.test(cfg.voice)) ||
        // without a key the ElevenLabs list is curated: accept any well-formed voice id
        (spec.id === 'elevenlabs' && !this.config.providers.elevenlabs.apiKey && /^[A-Za-z0-9]{20}$/.test(cfg.voice));
      if (!ok) return `unknown voice '${cfg.voice}' for tts provider '${spec.id}'`;
    }
    return null;
  }
}
