/**
 * HTML to text blocks without a DOM: a tokenizer over tags and text that drops script, style and nav (menus are
 * boilerplate), breaks blocks at block-level tags and turns h1-h6 into heading blocks. Offsets refer to the
 * extracted text (blocks joined by a blank line), which is what the chunks quote.
 */
import type { Block } from './blocks.js';

const TOKEN =
  /<!--[\s\S]*?-->|<(script|style|noscript|template|svg|nav)\b[^>]*>[\s\S]*?<\/\1\s*>|<\/?([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>|<!?[^>]*>|[^<]+|</g;

const BLOCK_TAGS = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'br',
  'dd',
  'details',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figcaption',
  'figure',
  'footer',
  'form',
  'header',
  'hr',
  'li',
  'main',
  'nav',
  'ol',
  'p',
  'pre',
  'section',
  'summary',
  'table',
  'tbody',
  'td',
  'tfoot',
  'th',
  'thead',
  'tr',
  'ul',
  'title',
  'body',
  'html',
  'head',
]);

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  ndash: '–',
  mdash: '—',
  hellip: '…',
  copy: '©',
  reg: '®',
  euro: '€',
  pound: '£',
  rsquo: '’',
  lsquo: '‘',
  rdquo: '”',
  ldquo: '“',
  trade: '™',
};

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

export function htmlToBlocks(html: string): { text: string; blocks: Block[] } {
  const blocks: Block[] = [];
  let text = '';
  let buf = '';
  let heading = 0;
  const flush = () => {
    const t = buf.replace(/\s+/g, ' ').trim();
    buf = '';
    if (!t) return;
    if (text) text += '\n\n';
    const start = text.length;
    text += t;
    blocks.push(
      heading
        ? { kind: 'heading', text: t, start, end: text.length, level: heading }
        : { kind: 'paragraph', text: t, start, end: text.length },
    );
  };
  for (const m of html.matchAll(TOKEN)) {
    const tok = m[0];
    if (m[1] || tok.startsWith('<!')) continue;
    const tag = m[2]?.toLowerCase();
    if (tag) {
      const closing = tok[1] === '/';
      const h = /^h([1-6])$/.exec(tag);
      if (h) {
        flush();
        heading = closing ? 0 : Number(h[1]);
      } else if (BLOCK_TAGS.has(tag)) {
        flush();
      }
      continue;
    }
    buf += decodeEntities(tok);
  }
  flush();
  return { text, blocks };
}
