/**
 * SIP message codec (RFC 3261 section 7): a request or a response, start line + headers + body. Header names are
 * stored lower-cased in their long form (RFC 3261 section 7.3.3 compact forms are expanded on parse); each header
 * keeps its values in order, comma-separated values of the list headers we read (Via) are split.
 *
 * Why our own and not the npm `sip` package (kirm/sip.js): it bundles parser, transport and transaction layer in
 * one untyped module last released in 2017 with known unhandled parse exceptions on malformed input; `drachtio-srf`
 * needs a separate drachtio C++ server; `sip.js` and JsSIP are browser user agents over WebSocket (no UDP/TCP
 * server side). What we need from SIP here is a narrow UAS/UAC subset, kept small and tested in test/sip/.
 */
export interface SipMessage {
  /** Request method (INVITE, ACK, BYE...); undefined for a response. */
  method?: string;
  /** Request-URI; undefined for a response. */
  uri?: string;
  /** Response status; undefined for a request. */
  status?: number;
  reason?: string;
  /** Lower-case long header names -> values in order of appearance. */
  headers: Map<string, string[]>;
  body: Buffer;
}

/** Largest SIP message we accept, bytes (UDP datagrams are below this anyway; TCP framing enforces it). */
export const MAX_SIP_MESSAGE = 64 * 1024;

const COMPACT: Record<string, string> = {
  v: 'via',
  f: 'from',
  t: 'to',
  i: 'call-id',
  m: 'contact',
  l: 'content-length',
  c: 'content-type',
  k: 'supported',
  s: 'subject',
  e: 'content-encoding',
  o: 'event',
  r: 'refer-to',
  b: 'referred-by',
  x: 'session-expires',
};

/** Canonical spelling on the wire for the headers we write. */
const CANONICAL: Record<string, string> = {
  via: 'Via',
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'proxy-authenticate': 'Proxy-Authenticate',
  'max-forwards': 'Max-Forwards',
};

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

export class SipParseError extends Error {}

/** Parses one whole message. Throws SipParseError on anything malformed (the caller answers 400 or drops it). */
export function parseSip(buf: Buffer): SipMessage {
  if (buf.length > MAX_SIP_MESSAGE) throw new SipParseError('message too large');
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) throw new SipParseError('no end of headers');
  const head = buf.toString('utf8', 0, end);
  const lines = head.split('\r\n');
  const start = lines[0] ?? '';
  const msg: SipMessage = { headers: new Map(), body: buf.subarray(end + 4) };
  if (start.startsWith('SIP/2.0 ')) {
    const m = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(start);
    if (!m) throw new SipParseError('bad status line');
    msg.status = Number(m[1]);
    msg.reason = m[2] ?? '';
  } else {
    const m = /^([A-Za-z]+) (\S+) SIP\/2\.0$/.exec(start);
    if (!m || !TOKEN.test(m[1]!)) throw new SipParseError('bad request line');
    msg.method = m[1]!.toUpperCase();
    msg.uri = m[2]!;
  }
  let last: string[] | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      // Header folding (RFC 3261 7.3.1): continuation of the previous value.
      if (!last || last.length === 0) throw new SipParseError('folded line without a header');
      last[last.length - 1] += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new SipParseError('bad header line');
    let name = line.slice(0, colon).trim().toLowerCase();
    if (!TOKEN.test(name)) throw new SipParseError('bad header name');
    name = COMPACT[name] ?? name;
    const value = line.slice(colon + 1).trim();
    let list = msg.headers.get(name);
    if (!list) {
      list = [];
      msg.headers.set(name, list);
    }
    if (name === 'via') for (const v of splitComma(value)) list.push(v);
    else list.push(value);
    last = list;
  }
  for (const h of ['via', 'from', 'to', 'call-id', 'cseq']) {
    if (!msg.headers.get(h)?.length) throw new SipParseError(`missing ${h}`);
  }
  const cseq = parseCSeq(header(msg, 'cseq')!);
  if (!cseq || (msg.method !== undefined && cseq.method !== msg.method)) throw new SipParseError('bad CSeq');
  const cl = header(msg, 'content-length');
  if (cl !== undefined) {
    const n = Number(cl);
    if (!/^\d+$/.test(cl) || n > msg.body.length) throw new SipParseError('bad Content-Length');
    msg.body = msg.body.subarray(0, n);
  }
  return msg;
}

/** Commas outside quotes and angle brackets. */
function splitComma(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '"' && value[i - 1] !== '\\') quoted = !quoted;
    else if (!quoted && c === '<') depth++;
    else if (!quoted && c === '>') depth--;
    else if (!quoted && depth === 0 && c === ',') {
      out.push(value.slice(from, i).trim());
      from = i + 1;
    }
  }
  out.push(value.slice(from).trim());
  return out.filter((v) => v.length > 0);
}

export function header(msg: SipMessage, name: string): string | undefined {
  return msg.headers.get(name)?.[0];
}

export function serializeSip(msg: SipMessage): Buffer {
  const start =
    msg.method !== undefined ? `${msg.method} ${msg.uri} SIP/2.0` : `SIP/2.0 ${msg.status} ${msg.reason ?? ''}`;
  let out = `${start}\r\n`;
  for (const [name, values] of msg.headers) {
    if (name === 'content-length') continue;
    const wire = CANONICAL[name] ?? name.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase());
    for (const v of values) out += `${wire}: ${v}\r\n`;
  }
  out += `Content-Length: ${msg.body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(out, 'utf8'), msg.body]);
}

export function parseCSeq(v: string): { seq: number; method: string } | undefined {
  const m = /^(\d{1,10})\s+([A-Za-z]+)$/.exec(v.trim());
  return m ? { seq: Number(m[1]), method: m[2]!.toUpperCase() } : undefined;
}

/** `;name=value` parameters of a header value (after the URI part). Lower-case names. */
export function headerParams(v: string): Map<string, string> {
  const out = new Map<string, string>();
  const close = v.lastIndexOf('>');
  const tail = close >= 0 ? v.slice(close + 1) : v.slice(v.indexOf(';') >= 0 ? v.indexOf(';') : v.length);
  for (const part of tail.split(';')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq < 0) out.set(p.toLowerCase(), '');
    else
      out.set(
        p.slice(0, eq).trim().toLowerCase(),
        p
          .slice(eq + 1)
          .trim()
          .replace(/^"|"$/g, ''),
      );
  }
  return out;
}

/** The URI in a name-addr (`"Bob" <sip:bob@x>;tag=1`) or addr-spec (`sip:bob@x;tag=1`). */
export function addrUri(v: string): string {
  const lt = v.indexOf('<');
  if (lt >= 0) return v.slice(lt + 1, v.indexOf('>', lt));
  const semi = v.indexOf(';');
  return (semi >= 0 ? v.slice(0, semi) : v).trim();
}

export function tagOf(v: string | undefined): string | undefined {
  return v === undefined ? undefined : headerParams(v).get('tag');
}

export interface SipUri {
  scheme: string;
  user?: string;
  host: string;
  port?: number;
  params: Map<string, string>;
}

/** `sip:user@host:port;params` (no headers part). */
export function parseUri(uri: string): SipUri | undefined {
  const m = /^(sips?):(?:([^@;]+)@)?(\[[0-9a-fA-F:.]+\]|[^:;?>]+)(?::(\d+))?((?:;[^?]*)?)/.exec(uri.trim());
  if (!m) return undefined;
  const params = new Map<string, string>();
  for (const part of (m[5] ?? '').split(';')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    params.set((eq < 0 ? part : part.slice(0, eq)).toLowerCase(), eq < 0 ? '' : part.slice(eq + 1));
  }
  let user: string | undefined;
  try {
    user = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
  } catch {
    return undefined;
  }
  return {
    scheme: m[1]!.toLowerCase(),
    user,
    host: m[3]!.replace(/^\[|\]$/g, ''),
    port: m[4] === undefined ? undefined : Number(m[4]),
    params,
  };
}

/** A response to `req` with the headers RFC 3261 8.2.6.2 copies (Via, From, To, Call-ID, CSeq). */
export function makeResponse(req: SipMessage, status: number, reason: string, toTag?: string): SipMessage {
  const headers = new Map<string, string[]>();
  headers.set('via', [...(req.headers.get('via') ?? [])]);
  headers.set('from', [header(req, 'from')!]);
  let to = header(req, 'to')!;
  if (toTag !== undefined && tagOf(to) === undefined) to = `${to};tag=${toTag}`;
  headers.set('to', [to]);
  headers.set('call-id', [header(req, 'call-id')!]);
  headers.set('cseq', [header(req, 'cseq')!]);
  return { status, reason, headers, body: Buffer.alloc(0) };
}

/** A user part for a SIP URI (RFC 3261 25.1 user: unreserved and user-unreserved as is, the rest %-escaped). */
export function escapeUser(user: string): string {
  return user.replace(/[^A-Za-z0-9\-_.!~*'()&=+$,;?/]/g, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}
