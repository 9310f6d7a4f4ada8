/**
 * Format detection and parsing into structural blocks (headings, paragraphs, FAQ pairs, records). Every failure is
 * an EngineError: UNSUPPORTED_MEDIA_TYPE for formats we do not read, VALIDATION_FAILED for malformed or empty input.
 */
import { EngineError } from '../errors.js';
import { type Block, type DocFormat, FORMAT_MIME, type ParsedDocument } from './blocks.js';
import { parseCsv } from './csv.js';
import { htmlToBlocks } from './html.js';
import { paragraphBlocks } from './paragraphs.js';
import { pdfToBlocks } from './pdf.js';

export type { Block, DocFormat, ParsedDocument } from './blocks.js';

const MIME_FORMAT: Record<string, DocFormat> = {
  'text/plain': 'text',
  'text/markdown': 'markdown',
  'text/x-markdown': 'markdown',
  'text/html': 'html',
  'application/xhtml+xml': 'html',
  'application/pdf': 'pdf',
  'text/csv': 'csv',
  'application/csv': 'csv',
  'application/json': 'json',
  'text/json': 'json',
};

const EXT_FORMAT: Record<string, DocFormat> = {
  txt: 'text',
  text: 'text',
  md: 'markdown',
  markdown: 'markdown',
  html: 'html',
  htm: 'html',
  pdf: 'pdf',
  csv: 'csv',
  json: 'json',
};

/** Generic MIME types that say nothing about the content: fall back to the name, then to sniffing. */
const GENERIC = new Set(['', 'application/octet-stream', 'binary/octet-stream']);

export function detectFormat(input: { content: Uint8Array | string; mime?: string; name?: string }): DocFormat {
  const mime = (input.mime ?? '').split(';')[0]!.trim().toLowerCase();
  if (!GENERIC.has(mime)) {
    const f = MIME_FORMAT[mime];
    if (!f)
      throw new EngineError(
        'UNSUPPORTED_MEDIA_TYPE',
        `Unsupported document type '${mime}'; supported: ${Object.keys(MIME_FORMAT).join(', ')}`,
      );
    return f;
  }
  const ext = /\.([a-z0-9]+)$/i.exec(input.name ?? '')?.[1]?.toLowerCase();
  if (ext) {
    const f = EXT_FORMAT[ext];
    if (!f) throw new EngineError('UNSUPPORTED_MEDIA_TYPE', `Unsupported document extension '.${ext}'`);
    return f;
  }
  const head =
    typeof input.content === 'string'
      ? input.content.slice(0, 64)
      : Buffer.from(input.content.subarray(0, 64)).toString('latin1');
  if (head.startsWith('%PDF-')) return 'pdf';
  const t = head.trimStart().toLowerCase();
  if (t.startsWith('<!doctype html') || t.startsWith('<html')) return 'html';
  if (t.startsWith('{') || t.startsWith('[')) return 'json';
  return 'text';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeText(content: Uint8Array | string): string {
  if (typeof content === 'string') return content;
  let s: string;
  try {
    s = utf8.decode(content);
  } catch {
    throw new EngineError('VALIDATION_FAILED', 'The document is not valid UTF-8 text');
  }
  if (s.includes('\u0000')) throw new EngineError('VALIDATION_FAILED', 'The document contains binary data (NUL bytes)');
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

export async function parseDocument(input: {
  content: Uint8Array | string;
  mime?: string;
  name?: string;
}): Promise<ParsedDocument> {
  const format = detectFormat(input);
  let parsed: { text: string; blocks: Block[] };
  if (format === 'pdf') {
    const bytes = typeof input.content === 'string' ? Buffer.from(input.content, 'latin1') : input.content;
    if (Buffer.from(bytes.subarray(0, 5)).toString('latin1') !== '%PDF-') {
      throw new EngineError('VALIDATION_FAILED', 'The document is not a PDF (no %PDF- header)');
    }
    parsed = await pdfToBlocks(bytes);
  } else {
    const text = decodeText(input.content);
    if (format === 'markdown') parsed = { text, blocks: markdownBlocks(text) };
    else if (format === 'html') parsed = htmlToBlocks(text);
    else if (format === 'csv') parsed = { text, blocks: csvBlocks(text) };
    else if (format === 'json') parsed = jsonBlocks(text);
    else parsed = { text, blocks: paragraphBlocks(text, 0, text.length) };
  }
  if (parsed.blocks.length === 0) throw new EngineError('VALIDATION_FAILED', 'The document contains no text');
  return { format, mime: FORMAT_MIME[format], ...parsed };
}

/** ATX headings (`#` to `######`), fenced code kept whole, paragraphs between blank lines. */
function markdownBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = /[^\n]*(?:\n|$)/g;
  let paraStart = -1;
  let paraEnd = -1;
  let fence = false;
  const flushPara = () => {
    if (paraStart >= 0) blocks.push(...paragraphBlocks(text, paraStart, paraEnd));
    paraStart = -1;
  };
  for (let m = lines.exec(text); m && m[0] !== ''; m = lines.exec(text)) {
    const start = m.index;
    const line = m[0].replace(/\r?\n$/, '');
    const end = start + line.length;
    if (/^\s*(```|~~~)/.test(line)) fence = !fence;
    const h = fence ? null : /^(#{1,6})[ \t]+(.*?)[ \t#]*$/.exec(line);
    if (h) {
      flushPara();
      blocks.push({ kind: 'heading', text: h[2]!, start, end, level: h[1]!.length });
    } else if (!fence && line.trim() === '') {
      flushPara();
    } else {
      if (paraStart < 0) paraStart = start;
      paraEnd = end;
    }
  }
  flushPara();
  return blocks;
}

/** A CSV with question and answer columns is an FAQ: one block per pair. Any other CSV: one record per row. */
function csvBlocks(text: string): Block[] {
  const rows = parseCsv(text);
  if (!rows) throw new EngineError('VALIDATION_FAILED', 'Malformed CSV: a quoted field is never closed');
  if (rows.length < 2) throw new EngineError('VALIDATION_FAILED', 'The CSV has a header but no rows');
  const header = rows[0]!.fields.map((h) => h.trim().toLowerCase());
  const q = header.findIndex((h) => h === 'question' || h === 'q');
  const a = header.findIndex((h) => h === 'answer' || h === 'a');
  const id = header.indexOf('id');
  const blocks: Block[] = [];
  for (const row of rows.slice(1)) {
    const f = row.fields;
    if (f.length !== header.length) {
      throw new EngineError(
        'VALIDATION_FAILED',
        `Malformed CSV: row at offset ${row.start} has ${f.length} fields, header has ${header.length}`,
      );
    }
    const label = id >= 0 ? f[id]!.trim() : undefined;
    if (q >= 0 && a >= 0) {
      const question = f[q]!.trim();
      const answer = f[a]!.trim();
      if (!question && !answer) continue;
      blocks.push({ kind: 'qa', text: `Q: ${question}\nA: ${answer}`, start: row.start, end: row.end, label });
    } else {
      const body = header.map((h, i) => `${h}: ${f[i]!.trim()}`).join('\n');
      blocks.push({ kind: 'record', text: body, start: row.start, end: row.end, label });
    }
  }
  return blocks;
}

/**
 * JSON: an array of {question, answer} objects (top level or under any key) becomes FAQ pairs; anything else is
 * rendered as `path: value` lines, one record per top-level entry. Offsets refer to that rendering.
 */
function jsonBlocks(source: string): { text: string; blocks: Block[] } {
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (err) {
    throw new EngineError('VALIDATION_FAILED', `Malformed JSON: ${(err as Error).message}`);
  }
  const blocks: Block[] = [];
  let text = '';
  const push = (kind: Block['kind'], body: string, label?: string) => {
    if (!body.trim()) return;
    if (text) text += '\n\n';
    const start = text.length;
    text += body;
    blocks.push({ kind, text: body, start, end: text.length, label });
  };
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [String(i), v])
    : value !== null && typeof value === 'object'
      ? Object.entries(value)
      : [['value', value]];
  for (const [key, v] of entries) {
    const pairs = faqPairs(v);
    if (pairs) {
      for (const p of pairs) push('qa', `Q: ${p.question}\nA: ${p.answer}`, p.id);
    } else {
      const lines: string[] = [];
      flatten(v, Array.isArray(value) ? '' : key, lines);
      push('record', lines.join('\n'), key);
    }
  }
  return { text, blocks };
}

function faqPairs(v: unknown): { question: string; answer: string; id?: string }[] | null {
  const one = (o: unknown) => {
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return null;
    const r = o as Record<string, unknown>;
    const question = r.question ?? r.q;
    const answer = r.answer ?? r.a;
    if (typeof question !== 'string' || typeof answer !== 'string') return null;
    return { question, answer, id: r.id === undefined ? undefined : String(r.id) };
  };
  const single = one(v);
  if (single) return [single];
  if (!Array.isArray(v) || v.length === 0) return null;
  const all = v.map(one);
  return all.every((p) => p !== null) ? (all as { question: string; answer: string; id?: string }[]) : null;
}

function flatten(v: unknown, path: string, out: string[]): void {
  if (v === null || typeof v !== 'object') {
    out.push(path ? `${path}: ${String(v)}` : String(v));
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) flatten(v[i], path ? `${path}[${i}]` : `[${i}]`, out);
  } else {
    for (const [k, x] of Object.entries(v)) flatten(x, path ? `${path}.${k}` : k, out);
  }
}
