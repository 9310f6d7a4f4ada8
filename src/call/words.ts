/**
 * What the words of a caller's turn say about turn-taking: whether the sentence looks finished (commit sooner),
 * trails off (wait longer), or is only a backchannel that must not cut the agent off.
 */

/** Endings after which a speaker usually goes on: conjunctions, fillers, prepositions, "my number is". */
const TRAILING =
  /\b(and|or|but|so|because|um+|uh+|er+|erm|hmm+|like|the|a|an|to|of|for|with|my|your|at|in|on|from|if|then|which|who|let me see|i mean|you know|well)$|\b(number|name|address|email|code|account|it|that|this|there|here) (is|are|was|would be)$/;

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

export type Completeness = 'question' | 'statement' | 'trailing' | 'empty';

export function completeness(text: string): Completeness {
  const t = normalize(text);
  if (!t) return 'empty';
  if (t.endsWith('?')) return 'question';
  const bare = t.replace(/[?]/g, '').trim();
  if (TRAILING.test(bare)) return 'trailing';
  if (QUESTION_START.test(bare) && bare.split(' ').length >= 3) return 'question';
  return 'statement';
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
