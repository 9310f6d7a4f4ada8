/**
 * Deterministic structured-output extraction for the `rules` agent: fills a JSON schema's properties from the
 * caller's words with simple patterns (names, numbers, emails, digit strings, yes/no, enums). Always returns an
 * object whose property types match the schema, so downstream validation passes even when nothing was found.
 */
import type { ChatMessage } from '../types.js';

type Schema = Record<string, unknown>;

const EMAIL = /[\w.+-]+@[\w-]+(\.[\w-]+)+/;
const NUMBER = /-?\d+(\.\d+)?/;
const NAME = /\b(?:my name is|my name's|i am|i'm|this is|call me)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)/;
const YES = /\b(yes|yeah|yep|sure|correct|right|ok|okay|please do)\b/i;
const NO = /\b(no|nope|not|don't|never|cancel)\b/i;

function digitsOf(text: string): string {
  const dtmf = [...text.matchAll(/DTMF:\s*([0-9*#]+)/gi)].map((m) => m[1]).join('');
  if (dtmf) return dtmf.replace(/[*#]/g, '');
  const runs = text.replace(/[\s-]/g, '').match(/\+?\d{3,}/g) ?? [];
  return runs.sort((a, b) => b.length - a.length)[0] ?? '';
}

function valueFor(name: string, schema: Schema, text: string): unknown {
  const type = Array.isArray(schema.type) ? (schema.type as string[])[0] : (schema.type as string | undefined);
  const key = name.toLowerCase();
  if (Array.isArray(schema.enum) && schema.enum.length) {
    const hit = schema.enum.find((v) => typeof v === 'string' && text.toLowerCase().includes(v.toLowerCase()));
    return hit ?? schema.enum[0];
  }
  switch (type) {
    case 'integer':
    case 'number': {
      const m = NUMBER.exec(text.replace(/DTMF:\s*/gi, ''));
      const n = m ? Number(m[0]) : 0;
      return type === 'integer' ? Math.trunc(n) : n;
    }
    case 'boolean':
      return YES.test(text) && !NO.test(text);
    case 'array':
      return [];
    case 'object':
      return extractFromText(schema, text);
    case 'null':
      return null;
    default: {
      if (schema.format === 'email' || key.includes('email')) return EMAIL.exec(text)?.[0] ?? '';
      if (/phone|digits|number|account|pin|code|zip/.test(key)) return digitsOf(text);
      if (key.includes('name')) return NAME.exec(text)?.[1] ?? '';
      if (/summary|transcript|notes|reason|request/.test(key)) return text.slice(0, 500);
      return '';
    }
  }
}

function extractFromText(schema: Schema, text: string): Record<string, unknown> {
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const out: Record<string, unknown> = {};
  for (const [name, sub] of Object.entries(props)) out[name] = valueFor(name, sub ?? {}, text);
  return out;
}

/** The caller's side of the conversation (user messages) is what gets extracted. */
export function extractStructured(messages: ChatMessage[], schema: Schema): Record<string, unknown> {
  const text = messages
    .filter((m) => m.role === 'user')
    .map((m) => m.content)
    .join(' ');
  return extractFromText(schema, text);
}
