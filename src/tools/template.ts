/**
 * {{name}} placeholders. In a JSON body template a placeholder becomes the argument's JSON value (a string gets its
 * quotes), so `{"id": {{orderId}}}` stays valid JSON whatever the type; a placeholder already inside quotes gets the
 * escaped string content. In URLs and headers it becomes the URL-encoded / plain text.
 */
const PLACEHOLDER = /("?)\{\{\s*([a-zA-Z0-9_.-]+)\s*\}\}("?)/g;

function lookup(args: Record<string, unknown>, path: string): unknown {
  let v: unknown = args;
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

export function fillJson(template: string, args: Record<string, unknown>): string {
  return template.replace(PLACEHOLDER, (_m, open: string, name: string, close: string) => {
    const v = lookup(args, name);
    if (open && close) {
      // Inside quotes: the string content, escaped.
      const s = v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
      return JSON.stringify(s);
    }
    return `${open}${v === undefined ? 'null' : JSON.stringify(v)}${close}`;
  });
}

export function fillText(template: string, args: Record<string, unknown>, encode?: (s: string) => string): string {
  return template.replace(/\{\{\s*([a-zA-Z0-9_.-]+)\s*\}\}/g, (_m, name: string) => {
    const v = lookup(args, name);
    const s = v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
    return encode ? encode(s) : s;
  });
}
