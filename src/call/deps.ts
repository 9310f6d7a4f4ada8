import type { AsrConfig, Assistant, LlmConfig, TtsConfig } from '../assistant.js';
import type { CallFiles } from '../call-files.js';
import type { Logger } from '../log.js';
import type { ProviderHooks } from '../providers/resilience.js';
import type { AsrProvider, KnowledgeHit, LlmProvider, TtsProvider } from '../providers/types.js';
import type { ToolRegistry } from '../tools/types.js';
import type { VadFactory } from './vad.js';

/**
 * What a call session needs from the rest of the engine. The composition root (src/engine.ts) maps CallSink to the
 * store (calls.appendEvent / calls.update) and onEnded to the webhooks outbox; tests pass in-memory versions.
 */
export type CallEventType = 'transcript' | 'turn' | 'tool' | 'dtmf' | 'incident' | 'state';

export interface CallPatch {
  status?: string;
  startedAt?: string;
  endedAt?: string;
  endReason?: string;
  recordingPath?: string;
  summary?: string;
  structuredOutput?: unknown;
  structuredOutputError?: string;
  durationMs?: number;
  /** Voicemail detection: human | machine | unknown, and the decision time, ms. */
  answeredBy?: 'human' | 'machine' | 'unknown';
  amdMs?: number;
}

export interface CallSink {
  event(type: CallEventType, data: Record<string, unknown>): void;
  update(patch: CallPatch): void;
}

export type { Incident, ProviderHooks } from '../providers/resilience.js';

/** The part of the provider registry (src/providers/registry.ts) the session uses. */
export interface ProviderRegistryLike {
  asr(cfg: AsrConfig | undefined, hooks?: ProviderHooks): AsrProvider;
  llm(cfg: LlmConfig | undefined, hooks?: ProviderHooks): LlmProvider;
  tts(cfg: TtsConfig | undefined, hooks?: ProviderHooks): TtsProvider;
}

export interface Retriever {
  search(q: string): Promise<KnowledgeHit[]>;
  prefetch?(q: string): void;
}

export interface TranscriptEntry {
  role: 'user' | 'assistant';
  text: string;
  turn: number;
  /** ms since the call started */
  atMs: number;
  interrupted?: boolean;
  /** A cut agent message: found by TTS word timings, or estimated from the played samples. */
  truncation?: 'word_timestamps' | 'estimate';
}

export interface CallSummary {
  callId: string;
  assistantId?: string;
  protocol: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  endReason: string;
  transcript: TranscriptEntry[];
  turns: number;
  recordingPath?: string;
  wirePath?: string;
  summary?: string;
  structuredOutput?: unknown;
  structuredOutputError?: string;
  transferredTo?: string;
  /** What ended the call: end_call, transfer_call, end_phrase, dtmf_menu, silence, max_duration, caller, error. */
  endedBy: string;
  /** Agent utterances cut off by the caller. */
  bargeIns: number;
  /** Pauses for caller speech that resumed the agent (noise, a cough, an acknowledgement). */
  falseInterruptions?: number;
  /** Caller utterances the recognizer could not make sense of, answered with a reprompt. */
  unintelligible?: number;
  /** Collected DTMF strings (handed to the LLM) and menu keys, in order. */
  digits: string[];
  toolCalls: { name: string; ok: boolean }[];
  /** Voicemail detection (settings.voicemail), when it ran: human | machine | unknown, decision time ms. */
  answeredBy?: 'human' | 'machine' | 'unknown';
  amdMs?: number;
}

/** Who a call's tools act for (src/tools/types.ts ToolContext): the tenant, our record, the other party's number. */
export interface ToolScope {
  tenantId: string;
  callRecordId: string;
  assistantId: string;
  party?: string;
}

export interface SessionDeps {
  /** Passed into every tool context (send_sms texts `party` through the tenant's account). */
  toolScope?: ToolScope;
  providers: ProviderRegistryLike;
  tools: ToolRegistry;
  sink: CallSink;
  logger: Logger;
  dataDir: string;
  /** Per-call files named by our call id under the tenant's directory (src/call-files.ts); else `local`. */
  files?: CallFiles;
  retriever?: Retriever;
  /** Live config (DESIGN.md 9): polled between turns; the assistant config is swapped from the next turn. */
  loadAssistant?: () => Promise<Assistant | undefined>;
  /** -> call.ended webhook */
  onEnded?: (summary: CallSummary) => void;
  /** Clock in ms (performance.now() by default); tests and the bench may pass their own. */
  now?: () => number;
  /** Voice activity detector factory; defaults to src/audio/vad (WebRTC VAD). */
  createVad?: VadFactory;
}
