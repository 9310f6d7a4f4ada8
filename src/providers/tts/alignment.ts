/**
 * Character alignment (ElevenLabs `alignment`) -> word timings. Words are runs of non-space characters; times are
 * made relative to the start of the utterance's audio. ElevenLabs documents WebSocket alignment as relative to the
 * audio chunk it comes with; the HTTP with-timestamps stream counts from the start of the response. Both are
 * accepted: a chunk whose first character starts before the audio already received is chunk-relative and is
 * shifted by `offsetMs` (the utterance audio before this chunk).
 */
import type { WordTiming } from '../../audio/format.js';

export interface CharAlignment {
  chars: readonly string[];
  /** ms */
  starts: readonly number[];
  /** ms */
  ends: readonly number[];
}

/** Slack for rounding between the audio length and the aligned times, ms. */
const ABSOLUTE_SLACK_MS = 50;

/**
 * Assembles words across alignment chunks of one utterance: a word split over two chunks is reported once, on the
 * chunk where it ends (at whitespace); end() returns a last word that no whitespace closed.
 */
export class WordAssembler {
  private word = '';
  private start = 0;
  private end = 0;

  /** Words completed by this chunk. `offsetMs`: the utterance's audio before this chunk. */
  push(a: CharAlignment, offsetMs: number): WordTiming[] {
    const n = Math.min(a.chars.length, a.starts.length, a.ends.length);
    if (n === 0) return [];
    const shift = offsetMs > 0 && (a.starts[0] ?? 0) < offsetMs - ABSOLUTE_SLACK_MS ? offsetMs : 0;
    const words: WordTiming[] = [];
    for (let i = 0; i < n; i++) {
      const c = a.chars[i]!;
      if (/\s/.test(c)) {
        const w = this.take();
        if (w) words.push(w);
        continue;
      }
      if (!this.word) this.start = a.starts[i]! + shift;
      this.word += c;
      this.end = a.ends[i]! + shift;
    }
    return words;
  }

  /** The pending word, if any (end of the utterance). */
  take(): WordTiming | undefined {
    if (!this.word) return undefined;
    const w = { word: this.word, startMs: Math.round(this.start), endMs: Math.round(this.end) };
    this.word = '';
    return w;
  }
}

/** WebSocket shape: {chars, charStartTimesMs, charDurationsMs} (older payloads: charsDurationsMs). */
export function wsAlignment(raw: unknown): CharAlignment | undefined {
  const a = raw as {
    chars?: string[];
    charStartTimesMs?: number[];
    charDurationsMs?: number[];
    charsDurationsMs?: number[];
  } | null;
  const durations = a?.charDurationsMs ?? a?.charsDurationsMs;
  if (!a?.chars || !a.charStartTimesMs || !durations) return undefined;
  const starts = a.charStartTimesMs;
  return { chars: a.chars, starts, ends: starts.map((s, i) => s + (durations[i] ?? 0)) };
}
