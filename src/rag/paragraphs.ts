import type { Block } from './blocks.js';

/** Paragraph blocks: runs of non-blank lines in text[from, to), with their offsets. */
export function paragraphBlocks(text: string, from: number, to: number): Block[] {
  const out: Block[] = [];
  const re = /\n[ \t]*\n/g;
  re.lastIndex = from;
  let start = from;
  for (;;) {
    const m = re.exec(text);
    const end = m && m.index < to ? m.index : to;
    pushTrimmed(out, text, start, end);
    if (!m || m.index >= to) break;
    start = m.index + m[0].length;
  }
  return out;
}

function pushTrimmed(out: Block[], text: string, start: number, end: number): void {
  let s = start;
  let e = end;
  while (s < e && /\s/.test(text[s]!)) s++;
  while (e > s && /\s/.test(text[e - 1]!)) e--;
  if (e > s) out.push({ kind: 'paragraph', text: text.slice(s, e), start: s, end: e });
}
