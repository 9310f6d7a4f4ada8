import type { AudioChunk, WordTiming } from '../audio/format.js';
import type { SilenceTrimmer } from '../audio/trim.js';

/**
 * What the caller heard of an utterance, from its pieces (clauses with their outbound sample ranges) and the
 * playout position: whole pieces before it, then the words of the piece in progress: those whose TTS word timing
 * ends before the playout point when the provider gave timings (ElevenLabs alignment), else a share of its words
 * in proportion to its samples; cut at a word boundary.
 */

/** How a cut utterance's heard text was found: TTS word timings, or the played-sample share of each piece. */
export type TruncationMethod = 'word_timestamps' | 'estimate';

export interface Piece {
  text: string;
  /** Outbound sample range relative to the utterance start; end < 0 until synthesized. */
  start: number;
  end: number;
  /** From a cache: audio given, no TTS. */
  audio?: AudioChunk[];
  /** Word timings the TTS returned, ms from the start of its (untrimmed) audio for this piece. */
  words?: WordTiming[];
  /** The piece's trimmer: its leading cut shifts the word timings. */
  trim?: SilenceTrimmer;
  /** Sample rate of the TTS audio of this piece. */
  rate?: number;
  /** Uninterruptible (a legal disclosure): caller speech does not stop the utterance until this piece is heard. */
  hold?: boolean;
  /** Spoken over a text stream (a run of clauses): its text grows while its audio streams. */
  stream?: boolean;
}

/** Speech time per word, ms (about 150 words a minute): bounds the estimate for a streamed piece in progress. */
const MS_PER_WORD = 400;

/**
 * `queued`: samples the utterance has queued so far. A streamed piece still in progress without word timings is
 * estimated against the longer of its audio so far and its text at MS_PER_WORD (its text runs ahead of its audio).
 */
export function heardOf(
  pieces: readonly Piece[],
  heard: number,
  outRate: number,
  queued = -1,
): { text: string; method: TruncationMethod } {
  const out: string[] = [];
  let method: TruncationMethod = 'estimate';
  for (const p of pieces) {
    if ((p.end < 0 && p.start < 0) || p.start >= heard) break;
    if (p.end >= 0 && p.end <= heard) {
      out.push(p.text);
      continue;
    }
    if (p.words?.length && p.trim && p.rate) {
      // Timings are in the provider's audio time: add back the leading silence the trimmer cut.
      const atMs = ((heard - p.start) * 1000) / outRate + (p.trim.leadSamples * 1000) / p.rate;
      const words = p.words.filter((w) => w.endMs <= atMs).map((w) => w.word);
      method = 'word_timestamps';
      if (words.length) out.push(words.join(' '));
      break;
    }
    const words = p.text.split(/\s+/);
    let end = p.end;
    if (end < 0) {
      if (!p.stream || queued < 0) break;
      end = Math.max(queued, p.start + (words.length * MS_PER_WORD * outRate) / 1000);
    }
    const frac = (heard - p.start) / Math.max(1, end - p.start);
    const n = Math.floor(words.length * frac);
    if (n > 0) out.push(words.slice(0, n).join(' '));
    break;
  }
  return { text: out.join(' '), method };
}
