import type { AudioChunk, AudioFormat } from '../audio/format.js';

/**
 * `export interface WordTiming { word: string; startMs: number; endMs: number }`, filled on `AudioChunk.words` by
 * providers that report alignment; times relative to the start of that utterance's audio. Declared in
 * src/audio/format.ts beside AudioChunk (audio/ must not import from providers/: no type-only cycles).
 */
export type { WordTiming } from '../audio/format.js';

/**
 * Narrow streaming interfaces for every provider kind. One file per provider implements one of these; retry,
 * timeout and fallback live in one wrapper around them (src/providers/resilience.ts), an adapter only says whether
 * an error is retryable.
 */

/** Timing marks every provider call carries. Milliseconds from performance.now(). */
export interface Timing {
  requestSentAt?: number;
  firstByteAt?: number;
  doneAt?: number;
}

export type ProviderKind = 'asr' | 'llm' | 'tts' | 'embed';

export type ProviderErrorCode =
  | 'auth' // 401/403: never retried
  | 'rate_limited' // 429: retried after retryAfterMs
  | 'quota' // out of credit / quota (OpenAI 429 insufficient_quota, ElevenLabs quota_exceeded): never retried, fallback
  | 'timeout' // connect or first-byte timeout
  | 'connection' // dropped, refused, reset
  | 'server' // 5xx
  | 'bad_request' // 4xx other than the above: never retried
  | 'malformed' // the provider sent something we could not parse
  | 'unavailable' // not installed / not configured
  | 'aborted'; // cancelled by us

export class ProviderError extends Error {
  readonly provider: string;
  readonly kind: ProviderKind;
  readonly code: ProviderErrorCode;
  readonly status?: number;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  constructor(
    init: {
      provider: string;
      kind: ProviderKind;
      code: ProviderErrorCode;
      message: string;
      status?: number;
      retryable?: boolean;
      retryAfterMs?: number;
    },
    options?: { cause?: unknown },
  ) {
    super(init.message, options);
    this.name = 'ProviderError';
    this.provider = init.provider;
    this.kind = init.kind;
    this.code = init.code;
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs;
    this.retryable =
      init.retryable ??
      (init.code === 'rate_limited' || init.code === 'timeout' || init.code === 'connection' || init.code === 'server');
  }
}

/* ---------------------------------------------------------------- ASR */

export interface Word {
  word: string;
  /** ms from the start of the audio written to this stream */
  startMs: number;
  endMs: number;
  confidence?: number;
}

export interface AsrOptions {
  language?: string;
  model?: string;
  keyterms?: string[];
  /** Provider-side endpointing silence, ms (Deepgram `endpointing`). */
  endpointingMs?: number;
  /** Provider-side utterance end, ms (Deepgram `utterance_end_ms`). */
  utteranceEndMs?: number;
  interimResults?: boolean;
  /**
   * Hold each finalize() this long, ms, and drop it if the recognizer hears more speech meanwhile (Deepgram);
   * 0 / unset: Finalize at once. Lets a caller of finalize() on every short VAD pause keep sentences whole.
   */
  finalizeDelayMs?: number;
  /** Ask for eager_end_of_turn / turn_resumed events (providers with capabilities.eagerEndOfTurn). */
  eagerEndOfTurn?: boolean;
  /** The format the caller will write. The provider converts internally only if it must. */
  format: AudioFormat;
}

export type AsrEvent =
  | { type: 'partial'; text: string; words: Word[]; confidence?: number }
  | { type: 'final'; text: string; words: Word[]; confidence?: number; speechFinal: boolean }
  | { type: 'speech_started'; atMs?: number }
  | { type: 'utterance_end'; lastWordEndMs?: number }
  /** The transcript is probably complete (Flux EagerEndOfTurn): a reply may be prepared, not yet spoken. */
  | { type: 'eager_end_of_turn'; text: string; words: Word[]; confidence?: number }
  /** The caller went on after an eager_end_of_turn (Flux TurnResumed): discard what was prepared. */
  | { type: 'turn_resumed' }
  | { type: 'error'; error: ProviderError; fatal: boolean }
  | { type: 'closed' };

export interface AsrStream {
  /** Write audio in the format given at open. Never blocks; buffered across a reconnect. */
  write(audio: Uint8Array): void;
  /** Ask the provider to finalize what it has heard so far (Deepgram Finalize). */
  finalize(): void;
  /** Flush and close. Idempotent. */
  close(): Promise<void>;
  readonly timing: Timing;
}

/** What a recognizer does beyond transcripts (capabilities as data; absent = all false). */
export interface AsrCapabilities {
  /** It decides the end of turn itself (Flux EndOfTurn): its `final` with speechFinal is the turn's end. */
  endOfTurn?: boolean;
  /** It emits eager_end_of_turn / turn_resumed when AsrOptions.eagerEndOfTurn is set. */
  eagerEndOfTurn?: boolean;
  /** finalize() makes it answer at once (Deepgram Finalize); else finalize() is a no-op or a local cut. */
  finalize?: boolean;
  /** It streams interim words while the caller speaks (a second of speech without any word is not speech). */
  interim?: boolean;
}

export interface AsrProvider {
  readonly id: string;
  readonly capabilities?: AsrCapabilities;
  /** Formats accepted without conversion, best first. */
  readonly formats: readonly AudioFormat[];
  open(options: AsrOptions, onEvent: (event: AsrEvent) => void, signal?: AbortSignal): Promise<AsrStream>;
}

/* ---------------------------------------------------------------- LLM */

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text as produced by the model */
  arguments: string;
}

export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: ToolCall[] }
  | { role: 'tool'; toolCallId: string; name: string; content: string };

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the arguments object */
  parameters: Record<string, unknown>;
}

export interface KnowledgeHit {
  text: string;
  score: number;
  source?: string;
}

export interface LlmRequest {
  messages: ChatMessage[];
  tools?: ToolSpec[];
  model?: string;
  temperature?: number;
  maxTokens?: number;
  /** Force JSON output matching this schema (structured output extraction). */
  jsonSchema?: Record<string, unknown>;
  /** Knowledge lookup for providers that retrieve themselves (the offline rules agent). */
  knowledge?: (query: string) => Promise<KnowledgeHit[]>;
}

export type LlmEvent =
  | { type: 'text'; delta: string }
  | { type: 'tool_call'; call: ToolCall }
  | { type: 'usage'; promptTokens: number; completionTokens: number }
  | { type: 'done'; finishReason: string };

export interface LlmProvider {
  readonly id: string;
  /** Streams events; throws ProviderError. Stops promptly when `signal` aborts. */
  stream(request: LlmRequest, signal: AbortSignal, timing?: Timing): AsyncIterable<LlmEvent>;
}

/* ---------------------------------------------------------------- TTS */

export interface TtsRequest {
  text: string;
  voice?: string;
  model?: string;
  language?: string;
  speed?: number;
  /** Clause spoken just before / after this one (ElevenLabs previous_text / next_text): prosody across requests. */
  previousText?: string;
  nextText?: string;
  /** Preferred output; the provider picks the nearest format it can produce and says which in the chunks. */
  format: AudioFormat;
}

/**
 * Incremental-text synthesis (ElevenLabs stream-input, Deepgram speak WebSocket): one stream per agent reply, text
 * pushed as the LLM streams it (the session pushes whole clauses and flushes each), audio out as it is generated.
 */
export interface TtsTextStream {
  pushText(text: string): void;
  /** Generate what was pushed so far now (a clause end the adapter would not recognise, e.g. a comma). */
  flush?(): void;
  /** No more text: synthesize what is left. */
  end(): void;
  /** Audio chunks until the utterance is done. */
  readonly audio: AsyncIterable<AudioChunk>;
  close(): void;
  readonly timing: Timing;
}

export interface TtsProvider {
  readonly id: string;
  /** Formats produced natively, best first. */
  readonly formats: readonly AudioFormat[];
  synthesize(request: TtsRequest, signal: AbortSignal, timing?: Timing): AsyncIterable<AudioChunk>;
  /** Present when the provider takes text incrementally. */
  openTextStream?(request: Omit<TtsRequest, 'text'>, signal: AbortSignal): TtsTextStream;
}

/* ---------------------------------------------------------------- Embeddings */

export interface EmbedProvider {
  readonly id: string;
  readonly model: string;
  readonly dimensions: number;
  embed(texts: string[], signal?: AbortSignal): Promise<Float32Array[]>;
}
