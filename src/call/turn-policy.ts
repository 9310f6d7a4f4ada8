import type { AssistantSettings } from '../assistant.js';
import type { EndpointingConfig, TurnCommit } from './turns.js';

/**
 * The vocabulary of turn-taking (turn-taking.ts): the decisions it hands the session, the policy it applies (from
 * the assistant's settings) and the timing constants both sides share.
 */
export type AgentPhase = 'quiet' | 'thinking' | 'speaking';

export type TurnDecision =
  | { type: 'speech_start'; atMs: number; overlap: boolean }
  | { type: 'speech_end'; atMs: number }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'barge_in'; by: 'vad' | 'asr' | 'commit'; stop?: boolean }
  | {
      type: 'commit';
      turn: TurnCommit;
      overlap: boolean;
      voicedMs: number;
      forced?: boolean;
      /** The words of an overlap whose pause already resumed (they came after the agent went on). */
      resumed?: boolean;
    }
  | { type: 'unintelligible'; voicedMs: number }
  | { type: 'prepare'; text: string }
  | { type: 'discard' };

export interface TurnTakingConfig {
  endpointing: EndpointingConfig;
  /** Sustained caller speech (with words that are not a backchannel) that cuts the agent off, ms. */
  bargeInSpeechMs: number;
  /** False: the caller never cuts the agent off; their words wait for the agent to finish. */
  interruptible: boolean;
  /** Words (not an acknowledgement) that make an interruption real. */
  minWords: number;
  /** Resume after a false interruption (else the agent stays stopped). */
  resumeAfterFalse: boolean;
  /** After the caller's speech ends, how long a pause waits for words, ms. */
  falseTimeoutMs: number;
  /** A caller who talks on is cut into turns at this length, ms. */
  maxUtteranceMs: number;
  /** Prepare the reply on stable words before the turn is committed (preemptive generation). */
  preemptive: boolean;
}

/** Silence that ends a speech run (VAD hangover), ms. */
export const SPEECH_HANGOVER_MS = 160;

/**
 * How long the recognizer holds a Finalize (sent when a speech run ends) before sending it, ms: until the caller has
 * been quiet for the shortest pause that can end a turn (endpointing minDelayMs); speech meanwhile drops it, so a
 * shorter pause never splits a sentence.
 */
export function finalizeHoldMs(settings: AssistantSettings | undefined): number {
  return Math.max(0, (settings?.endpointing?.minDelayMs ?? 250) - SPEECH_HANGOVER_MS);
}

/** Extra sustained speech that makes an interruption real without any words from the recognizer, ms. */
export const NO_WORDS_EXTRA_MS = 500;
/**
 * While the agent is paused (silent already), speech without words must last this long to be an interruption:
 * "okay, thank you" or a cough are shorter; waiting costs nothing, the agent is not talking over the caller, ms.
 */
export const PAUSED_NO_WORDS_MS = 1500;
/**
 * Words the recognizer times within this of a speech run belong to it (the two clocks differ by the line's jitter
 * and the VAD's onset and overhang), ms.
 */
export const WORDS_SPEECH_MARGIN_MS = 300;
/** Voiced speech in a pause with no words at all that deserves a reprompt (shorter is noise), ms. */
export const UNINTELLIGIBLE_MIN_MS = 400;

/** The policy from the assistant's settings (documented in src/assistant.ts). */
export function turnTakingConfig(settings: AssistantSettings | undefined): TurnTakingConfig {
  const s = settings ?? {};
  const sensitivity = s.interruptionSensitivity ?? 0.5;
  // Sensitivity 0.5 keeps bargeInMinSpeechMs as configured; 1 halves it, lower values stretch it (0.25 -> 2x).
  const base = s.bargeInMinSpeechMs ?? 200;
  const e = s.endpointing ?? {};
  const minDelayMs = e.minDelayMs ?? 250;
  const i = s.interruption ?? {};
  return {
    interruptible: sensitivity > 0,
    bargeInSpeechMs: sensitivity >= 0.5 ? base * (1 - (sensitivity - 0.5)) : base / (sensitivity * 2),
    endpointing: { minDelayMs, maxDelayMs: Math.max(minDelayMs, e.maxDelayMs ?? 1500) },
    minWords: i.minWords ?? 1,
    resumeAfterFalse: i.resumeAfterFalse ?? true,
    falseTimeoutMs: i.falseTimeoutMs ?? 700,
    maxUtteranceMs: s.maxUtteranceMs ?? 20_000,
    preemptive: s.preemptiveGeneration ?? true,
  };
}
