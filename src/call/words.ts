/**
 * What the words of a caller's turn say about turn-taking: whether the sentence looks finished (commit sooner),
 * trails off (wait longer), or is only a backchannel that must not cut the agent off.
 */

/** Endings after which a speaker goes on, whatever the punctuation: conjunctions, fillers, "my number is". */
const TRAILING =
  /\b(and|or|but|so|because|um+|uh+|er+|erm|hmm+|like|the|a|an|my|your|if|then|which|who|let me see|i mean|you know|well)$|\b(number|name|address|email|code|account|it|that|this|there|here) (is|are|was|would be)$/;
/** Endings after which a speaker usually goes on unless the recognizer heard the sentence end (prepositions). */
const TRAILING_UNLESS_ENDED = /\b(to|of|for|with|at|in|on|from)$/;

const QUESTION_START =
  /^(what|what's|where|where's|when|who|who's|why|how|how's|which|can|could|would|will|do|does|did|is|are|am|was|should|may|have|has)\b/;

const BACKCHANNEL = new Set([
  'uh-huh',
  'uh huh',
  'uhhuh',
  'mhm',
  'mm-hmm',
  'mm hmm',
  'mmhmm',
  'mm',
  'hmm',
  'okay',
  'ok',
  'yeah',
  'yep',
  'yes',
  'right',
  'sure',
  'alright',
  'all right',
  'i see',
  'got it',
  'cool',
  'thank you',
  'thanks',
  'thank',
  'you',
  'great',
  'perfect',
  'oh',
  'ah',
  'uh',
  'um',
  'no problem',
]);

export function normalize(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}'\s?-]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * How finished the words of a turn look:
 *  - question: ends with "?" (or starts like one, when the recognizer does not punctuate);
 *  - complete: ends with "." or "!" (a punctuating recognizer heard the sentence end);
 *  - statement: no punctuation to go by (an unpunctuated recognizer), nothing trailing;
 *  - trailing: ends with ",", ";", ":", a dash or "...", with a conjunction, filler or preposition, or with a digit
 *    group and no final punctuation (a number being read out): the caller usually goes on;
 *  - empty: no words.
 */
export type Completeness = 'question' | 'complete' | 'statement' | 'trailing' | 'empty';

/** A digit group at the end of unpunctuated words ("five five five", "0 1"). */
const TRAILING_DIGITS = /\b(zero|oh|one|two|three|four|five|six|seven|eight|nine|\d+)$/;

export function completeness(text: string): Completeness {
  const t = normalize(text);
  if (!t) return 'empty';
  // The recognizer's own punctuation, closing quotes and brackets aside.
  const end = text.trim().replace(/["'’”)\]]+$/u, '');
  if (/(,|;|:|-|–|—|…|\.\.)$/u.test(end)) return 'trailing';
  const bare = t.replace(/[?]/g, '').trim();
  if (end.endsWith('?')) return 'question';
  if (TRAILING.test(bare)) return 'trailing';
  if (/[.!]$/u.test(end)) return 'complete';
  if (TRAILING_UNLESS_ENDED.test(bare) || TRAILING_DIGITS.test(bare)) return 'trailing';
  if (QUESTION_START.test(bare) && bare.split(' ').length >= 3) return 'question';
  return 'statement';
}

/** A number the caller reads out, in groups with pauses between them (a phone or card number, a date of birth). */
const NUMBER_SLOT =
  /\b(number|digits|zip|postcode|postal code|pin|code|date of birth|birthday|extension)\b[^.!?]*\?|\b(say|read|enter|give me|tell me)\b[^.!?]*\b(number|digits|code|date of birth)\b/;

/**
 * Did the agent just ask for a number ("What is your phone number?", "Please read me the card number.")? Its
 * answer is read in digit groups with hesitations between them, which the recognizer may not hear as digits.
 */
export function asksForNumber(agentText: string): boolean {
  const sentences = agentText
    .toLowerCase()
    .split(/(?<=[.!?])\s+/)
    .filter(Boolean);
  const last = sentences.at(-1);
  return last !== undefined && NUMBER_SLOT.test(last);
}

/** Same words, whatever the case and punctuation (a prepared reply is kept when the final transcript matches). */
export function sameWords(a: string, b: string): boolean {
  const w = (s: string): string => normalize(s).replace(/[?]/g, '').trim();
  return w(a) === w(b);
}

/** True when every word is a backchannel ("uh-huh", "okay yeah", "right right"). Empty text is not one. */
export function isBackchannel(text: string): boolean {
  const t = normalize(text).replace(/[?]/g, '').trim();
  if (!t) return false;
  if (BACKCHANNEL.has(t)) return true;
  const words = t.split(' ');
  if (words.length > 3) return false;
  return words.every((w) => BACKCHANNEL.has(w));
}

/** Case-insensitive phrase match on word boundaries. */
export function containsPhrase(text: string, phrases: readonly string[] | undefined): string | undefined {
  if (!phrases?.length) return undefined;
  const t = ` ${normalize(text).replace(/[?]/g, '')} `;
  for (const p of phrases) {
    const n = normalize(p).replace(/[?]/g, '');
    if (n && t.includes(` ${n} `)) return p;
  }
  return undefined;
}
