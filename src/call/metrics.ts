/**
 * Per-turn latency timeline (issue 6, deliverable 10). All marks are session-clock ms (performance.now() by
 * default); the derived figures are what the call record and the native protocol's turn.metrics event carry.
 */
export interface TurnMarks {
  turn: number;
  /** End of the caller's speech (last voiced audio). */
  speechEndAt?: number;
  asrFinalAt?: number;
  /** The turn detector decided the caller was done. */
  committedAt?: number;
  llmRequestAt?: number;
  llmFirstTokenAt?: number;
  ttsFirstByteAt?: number;
  /** First agent audio handed to the leg for sending. */
  firstAudioAt?: number;
  /** The caller hears the first audible agent sample (TTS silence trimmed, leg queue included). */
  firstAudibleAt?: number;
  interrupted?: boolean;
  /** A cut reply: how the history was truncated to what the caller heard. */
  truncation?: 'word_timestamps' | 'estimate';
  /** Thinking audio played before the answer (settings.thinkingAudio), and when it started. */
  thinkingAudio?: string;
  thinkingAudioAt?: number;
  /** Tools called in this turn. */
  tools?: string[];
  /** The reply was prepared before the commit (preemptive generation): the LLM request predates the commit. */
  preemptive?: boolean;
}

export interface TurnMetrics {
  turn: number;
  endpointingMs?: number;
  asrFinalMs?: number;
  llmFirstTokenMs?: number;
  ttsFirstByteMs?: number;
  /** End of caller speech (last voiced frame) -> first audible agent sample: what the caller experiences. */
  voiceToVoiceMs?: number;
  /** End of caller speech -> first agent audio handed to the leg (the first byte, silent or not). */
  firstAudioMs?: number;
  interrupted?: boolean;
  truncation?: 'word_timestamps' | 'estimate';
  thinkingAudio?: string;
  /** Turn committed -> thinking audio started. */
  thinkingAudioMs?: number;
  tools?: string[];
  preemptive?: boolean;
}

const diff = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined ? undefined : Math.round((a - b) * 10) / 10;

export function turnMetrics(m: TurnMarks): TurnMetrics {
  return {
    turn: m.turn,
    endpointingMs: diff(m.committedAt, m.speechEndAt),
    asrFinalMs: diff(m.asrFinalAt, m.speechEndAt),
    llmFirstTokenMs: diff(m.llmFirstTokenAt, m.llmRequestAt),
    ttsFirstByteMs: diff(m.ttsFirstByteAt, m.llmFirstTokenAt ?? m.llmRequestAt),
    voiceToVoiceMs: diff(m.firstAudibleAt ?? m.firstAudioAt, m.speechEndAt),
    firstAudioMs: diff(m.firstAudioAt, m.speechEndAt),
    interrupted: m.interrupted || undefined,
    truncation: m.truncation,
    thinkingAudio: m.thinkingAudio,
    thinkingAudioMs: diff(m.thinkingAudioAt, m.committedAt),
    tools: m.tools?.length ? m.tools : undefined,
    preemptive: m.preemptive || undefined,
  };
}

const MARK_KEYS = [
  'speechEndAt',
  'asrFinalAt',
  'committedAt',
  'llmRequestAt',
  'llmFirstTokenAt',
  'ttsFirstByteAt',
  'firstAudioAt',
  'firstAudibleAt',
] as const;

/**
 * The turn's marks as epoch ms (traces and timelines need wall-clock times), given the session clock's `now`:
 * each mark is placed its distance before now.
 */
export function epochMarks(m: TurnMarks, now: number, epochNow: number = Date.now()): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of MARK_KEYS) {
    const v = m[k];
    if (v !== undefined) out[k] = Math.round(epochNow - (now - v));
  }
  return out;
}
