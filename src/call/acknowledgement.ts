import { isBackchannel, normalize } from './words.js';

/**
 * Said over the agent, is it only an acknowledgement ("uh-huh", "okay", "thank you": the agent goes on) or does it
 * take the turn? Decided from the words, their number, the recognizer's confidence in them and the voiced duration
 * (the turn-taking unit while the agent is paused, the session when the words commit).
 */

/** Over the agent, an utterance this short (voiced) with at most two words is an acknowledgement, ms. */
export const SHORT_OVERLAP_MS = 800;
/**
 * Up to this many words of a short overlap are still an acknowledgement when the recognizer is guessing (its
 * confidence below UNSURE_CONFIDENCE) or when they come after the agent resumed: an 8 kHz recognizer turns a 0.6 s
 * "thank you" into "and he is" (confidence 0.44). Cutting the agent off for that costs more than letting it go on;
 * a stop word still interrupts, and so does anything longer.
 */
export const GUESSED_OVERLAP_WORDS = 3;
/** A recognizer confidence (0..1) below this: the words are a guess. */
export const UNSURE_CONFIDENCE = 0.6;
/** The longest acknowledgement made of acknowledgement words ("okay, thank you very much"), ms. */
export const MAX_BACKCHANNEL_MS = 1500;
/** Words that interrupt however short they are. */
const STOP_WORDS = /\b(stop|wait|hold on|hang on|excuse me|sorry|no|nope|actually|but|hello|hey)\b/;

export interface AcknowledgementHints {
  /** The recognizer's confidence in the words (0..1), when it gives one. */
  confidence?: number;
  /** The words came after the agent had already resumed from the pause they caused. */
  late?: boolean;
}

/**
 * Acknowledgement words ("uh-huh", "okay", "thank you") up to MAX_BACKCHANNEL_MS, or any short utterance (two
 * words at most, GUESSED_OVERLAP_WORDS when guessed or late; SHORT_OVERLAP_MS of speech: a recognizer often turns
 * "uh-huh" into "the head") unless it asks the agent to stop ("wait", "no", "sorry").
 */
export function isAcknowledgement(text: string, voicedMs: number, hints: AcknowledgementHints = {}): boolean {
  if (isBackchannel(text)) return voicedMs <= MAX_BACKCHANNEL_MS;
  const t = normalize(text).replace(/[?]/g, '').trim();
  if (!t) return true;
  if (STOP_WORDS.test(t)) return false;
  const guessed = hints.late === true || (hints.confidence !== undefined && hints.confidence < UNSURE_CONFIDENCE);
  return t.split(' ').length <= (guessed ? GUESSED_OVERLAP_WORDS : 2) && voicedMs <= SHORT_OVERLAP_MS;
}

/** Words of `text` that are not an acknowledgement ("okay", "thank you", "uh-huh"). */
export function realWords(text: string): number {
  if (!text || isBackchannel(text)) return 0;
  return normalize(text).replace(/[?]/g, '').split(' ').filter(Boolean).length;
}
