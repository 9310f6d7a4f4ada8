/** The word error rate behind the offline recognizer's README figures (`npx tsx bench/providers.ts --wer`). */
import { describe, expect, it } from 'vitest';
import { wordErrorRate } from '../../bench/providers.js';

describe('wordErrorRate', () => {
  it('ignores case and punctuation, as the published transcripts carry both', () => {
    expect(
      wordErrorRate('Which folder should I save the message to?', 'which folder should i save the message to'),
    ).toEqual({
      errors: 0,
      words: 8,
    });
  });
  it('counts substitutions, deletions and insertions against the reference length', () => {
    // "folder" -> "holder" (1), "the" dropped (1), "please" added (1)
    expect(
      wordErrorRate('Which folder should I save the message to?', 'which holder should i save message to please'),
    ).toEqual({
      errors: 3,
      words: 8,
    });
    expect(wordErrorRate('Thank you.', '')).toEqual({ errors: 2, words: 2 });
  });
});
