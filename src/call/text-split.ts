/**
 * Cuts streamed LLM text into pieces worth sending to TTS: whole sentences, or for the first piece of a reply a
 * clause (at a comma, colon or dash) once it has a few words, so the caller hears the agent start speaking while the
 * rest is still being generated. Abbreviations and numbers ("Dr.", "3.5") do not end a sentence.
 */
const ABBREV = /\b(mr|mrs|ms|dr|st|sr|jr|vs|etc|e\.g|i\.e|no|approx|dept|inc|ltd|co)\.$/i;

export class TextSplitter {
  private buf = '';
  private emitted = 0;
  /** Minimum characters before a clause break is used for the first piece. */
  private readonly firstClauseChars: number;
  /** Minimum characters before a clause break is used later (long sentences). */
  private readonly clauseChars: number;

  constructor(firstClauseChars = 18, clauseChars = 120) {
    this.firstClauseChars = firstClauseChars;
    this.clauseChars = clauseChars;
  }

  /** Add streamed text; returns the pieces that are complete. */
  push(delta: string): string[] {
    this.buf += delta;
    const out: string[] = [];
    let cut = this.findCut();
    while (cut > 0) {
      const piece = this.buf.slice(0, cut).trim();
      this.buf = this.buf.slice(cut);
      if (piece) {
        out.push(piece);
        this.emitted++;
      }
      cut = this.findCut();
    }
    return out;
  }

  /** The rest, at the end of the reply. */
  flush(): string | undefined {
    const piece = this.buf.trim();
    this.buf = '';
    if (!piece) return undefined;
    this.emitted++;
    return piece;
  }

  private findCut(): number {
    const b = this.buf;
    const clauseMin = this.emitted === 0 ? this.firstClauseChars : this.clauseChars;
    for (let i = 0; i < b.length - 1; i++) {
      const c = b[i]!;
      const next = b[i + 1]!;
      if (next !== ' ' && next !== '\n') continue;
      if (c === '.' || c === '!' || c === '?' || c === '\n') {
        if (
          c === '.' &&
          (ABBREV.test(b.slice(0, i + 1)) ||
            (/\d\.$/.test(b.slice(Math.max(0, i - 1), i + 1)) && /\d/.test(b[i + 2] ?? '')))
        ) {
          continue;
        }
        return i + 1;
      }
      if ((c === ',' || c === ';' || c === ':' || c === '\u2014') && i + 1 >= clauseMin) return i + 1;
    }
    if (b.endsWith('\n')) return b.length;
    return 0;
  }
}

/** Keep only what a voice should say: no markdown emphasis, headings, links or bullets. */
export function speakable(text: string): string {
  return text
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[*_`#>]+/g, '')
    .replace(/^\s*[-•]\s+/gm, '')
    .replace(/\s+/g, ' ')
    .trim();
}
