/**
 * Structure-aware chunking. Headings start a new chunk and name the section of the chunks under them; paragraphs
 * are packed up to `maxChars`; a paragraph longer than that is cut at sentence (else word) boundaries; consecutive
 * chunks of one section share `overlapChars` of text so an answer that straddles a cut is still found whole; FAQ
 * pairs are one chunk each, never merged or cut. Offsets are into the document text (see ParsedDocument.text).
 */
import type { Block } from './blocks.js';

export interface Chunk {
  index: number;
  text: string;
  start: number;
  end: number;
  /** Heading path ("Shipping > International"), the FAQ pair id, or '' */
  section: string;
  /** The heading path alone ('' for FAQ pairs and records): context worth indexing with the chunk's text */
  heading: string;
}

export interface ChunkOptions {
  /** Upper bound of a chunk's text, characters. About 250 tokens at the default. */
  maxChars?: number;
  /** Text repeated from the end of the previous chunk of the same section, characters. */
  overlapChars?: number;
}

interface Piece {
  text: string;
  start: number;
  end: number;
  /** Whether `text` is the document slice [start, end) (overlap can only be taken from such pieces). */
  verbatim: boolean;
  isHeading?: boolean;
}

export function chunkBlocks(blocks: readonly Block[], opts: ChunkOptions = {}): Chunk[] {
  const maxChars = Math.max(50, opts.maxChars ?? 1000);
  const overlap = Math.min(Math.max(0, opts.overlapChars ?? 150), Math.floor(maxChars / 3));
  const chunks: Chunk[] = [];
  const headings: string[] = [];
  let section = '';
  let cur: Piece[] = [];
  let curLen = 0;
  /** Level of the latest heading */
  let headingLevel = 0;
  /** cur holds only the overlap carried from the previous chunk */
  let carried = false;

  const emit = (pieces: Piece[], sec: string, heading: string) => {
    if (pieces.length === 0) return;
    chunks.push({
      index: chunks.length,
      text: pieces.map((p) => p.text).join('\n\n'),
      start: pieces[0]!.start,
      end: pieces[pieces.length - 1]!.end,
      section: sec,
      heading,
    });
  };
  /** Close the current chunk; with `carry`, the next one starts with the tail of this one. */
  const flush = (carry: boolean) => {
    const last = cur[cur.length - 1];
    const hasBody = cur.some((p) => p.verbatim);
    emit(cur, section, section);
    cur = [];
    curLen = 0;
    if (carry && hasBody && last?.verbatim && overlap > 0) {
      const tail = last.text.length <= overlap ? last : tailOf(last, overlap);
      if (tail) {
        cur.push(tail);
        curLen = tail.text.length;
        carried = true;
      }
    }
  };
  const add = (p: Piece) => {
    const sep = cur.length ? 2 : 0;
    if (cur.length && curLen + sep + p.text.length > maxChars) {
      // Only the carried overlap would be in this chunk: drop it rather than emit a chunk of pure repetition.
      if (carried && cur.length === 1) {
        cur = [];
        curLen = 0;
      } else flush(true);
    }
    carried = false;
    cur.push(p);
    curLen += (cur.length > 1 ? 2 : 0) + p.text.length;
  };

  for (const b of blocks) {
    if (b.kind === 'heading') {
      const level = Math.min(Math.max(b.level ?? 1, 1), 6);
      // A heading straight followed by a deeper one ("## Rentals" then "### Bikes") is no chunk of its own: it
      // lives on in the section path of the chunks under it.
      if (cur.length === 1 && cur[0]!.isHeading && level > headingLevel) {
        cur = [];
        curLen = 0;
      }
      flush(false);
      headingLevel = level;
      headings.length = level - 1;
      headings[level - 1] = b.text.trim();
      section = headings.filter(Boolean).join(' > ');
      cur.push({ text: b.text.trim(), start: b.start, end: b.end, verbatim: false, isHeading: true });
      curLen = b.text.length;
      carried = false;
      continue;
    }
    if (b.kind === 'qa') {
      flush(false);
      emit([{ text: b.text, start: b.start, end: b.end, verbatim: false }], b.label ?? section, '');
      continue;
    }
    const verbatim = b.kind === 'paragraph';
    if (b.text.length <= maxChars) {
      add({ text: b.text, start: b.start, end: b.end, verbatim });
      continue;
    }
    for (const p of splitLong(b, maxChars, overlap)) {
      // Pieces of one long paragraph already overlap each other: no extra carry between them.
      if (cur.length && curLen + 2 + p.text.length > maxChars) {
        if (carried && cur.length === 1) {
          cur = [];
          curLen = 0;
        } else flush(false);
      }
      carried = false;
      cur.push(p);
      curLen += (cur.length > 1 ? 2 : 0) + p.text.length;
    }
  }
  flush(false);
  return chunks;
}

/** The last ~n characters of a piece, starting at a sentence or word boundary. */
function tailOf(p: Piece, n: number): Piece | null {
  if (p.text.length <= n) return null;
  let cut = p.text.length - n;
  const sentence = p.text.slice(cut).search(/[.!?]\s+\S/);
  if (sentence >= 0 && sentence < n / 2) {
    cut += sentence + 1;
  } else {
    const space = p.text.indexOf(' ', cut);
    if (space < 0) return null;
    cut = space;
  }
  while (cut < p.text.length && /\s/.test(p.text[cut]!)) cut++;
  if (cut >= p.text.length) return null;
  return { text: p.text.slice(cut), start: p.start + cut, end: p.end, verbatim: true };
}

/** Cut one long block into pieces of at most maxChars, ending at sentence ends when possible, overlapping. */
function splitLong(b: Block, maxChars: number, overlap: number): Piece[] {
  const out: Piece[] = [];
  const t = b.text;
  const verbatim = b.kind === 'paragraph';
  let from = 0;
  while (from < t.length) {
    let to = Math.min(t.length, from + maxChars);
    if (to < t.length) {
      const window = t.slice(from, to);
      const lastSentence = Math.max(
        window.lastIndexOf('. '),
        window.lastIndexOf('! '),
        window.lastIndexOf('? '),
        window.lastIndexOf('\n'),
      );
      if (lastSentence > maxChars / 2) to = from + lastSentence + 1;
      else {
        const space = window.lastIndexOf(' ');
        if (space > maxChars / 2) to = from + space;
      }
    }
    const text = t.slice(from, to).trim();
    if (text)
      out.push({
        text,
        start: b.start + from + (t.slice(from, to).length - t.slice(from, to).trimStart().length),
        end: b.start + to - (t.slice(from, to).length - t.slice(from, to).trimEnd().length),
        verbatim,
      });
    if (to >= t.length) break;
    // Step back by the overlap, to a word boundary, but always move forward.
    let next = Math.max(from + 1, to - overlap);
    const space = t.indexOf(' ', next);
    if (space > 0 && space < to) next = space + 1;
    from = next;
  }
  return out;
}
