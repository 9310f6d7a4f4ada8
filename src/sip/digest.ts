import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * SIP digest authentication (RFC 3261 section 22.4, RFC 2617 MD5, qop=auth), both ways:
 * - as a server: challenge() builds the WWW-Authenticate value; verify() checks an Authorization header. Nonces are
 *   stateless: `<ms timestamp>.<HMAC(secret, timestamp)>`, valid for NONCE_TTL_MS, so a flood of challenges keeps
 *   no state; the response hash is compared in constant time.
 * - as a client (registering to a trunk, outbound INVITE): authorize() answers a challenge.
 */
const NONCE_TTL_MS = 60_000;

export interface DigestCredentials {
  username: string;
  password: string;
}

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

export class DigestServer {
  private readonly secret = randomBytes(32);

  constructor(readonly realm: string) {}

  challenge(now = Date.now(), stale = false): string {
    const ts = String(now);
    const nonce = `${ts}.${createHmac('sha256', this.secret).update(ts).digest('hex').slice(0, 32)}`;
    return `Digest realm="${this.realm}", nonce="${nonce}", algorithm=MD5, qop="auth"${stale ? ', stale=true' : ''}`;
  }

  /** 'ok', 'stale' (a nonce of ours that expired: challenge again with stale=true) or 'bad'. */
  verify(authorization: string, method: string, creds: DigestCredentials, now = Date.now()): 'ok' | 'stale' | 'bad' {
    const p = parseDigest(authorization);
    if (!p || p.username !== creds.username || p.realm !== this.realm || !p.nonce || !p.uri || !p.response) {
      return 'bad';
    }
    if ((p.algorithm ?? 'MD5').toUpperCase() !== 'MD5') return 'bad';
    const [ts, mac] = p.nonce.split('.');
    if (!ts || !mac) return 'bad';
    const expect = createHmac('sha256', this.secret).update(ts).digest('hex').slice(0, 32);
    if (!safeEqual(mac, expect)) return 'bad';
    const ha1 = md5(`${creds.username}:${this.realm}:${creds.password}`);
    const ha2 = md5(`${method}:${p.uri}`);
    const want =
      p.qop === 'auth'
        ? md5(`${ha1}:${p.nonce}:${p.nc ?? ''}:${p.cnonce ?? ''}:auth:${ha2}`)
        : md5(`${ha1}:${p.nonce}:${ha2}`);
    if (!safeEqual(p.response.toLowerCase(), want)) return 'bad';
    return now - Number(ts) > NONCE_TTL_MS ? 'stale' : 'ok';
  }
}

/** The Authorization value answering `challenge` (a WWW-Authenticate / Proxy-Authenticate value). */
export function authorize(
  challenge: string,
  method: string,
  uri: string,
  creds: DigestCredentials,
): string | undefined {
  const c = parseDigest(challenge);
  if (!c?.realm || !c.nonce) return undefined;
  const ha1 = md5(`${creds.username}:${c.realm}:${creds.password}`);
  const ha2 = md5(`${method}:${uri}`);
  const qop = c.qop
    ?.split(',')
    .map((q) => q.trim())
    .includes('auth')
    ? 'auth'
    : undefined;
  let out = `Digest username="${creds.username}", realm="${c.realm}", nonce="${c.nonce}", uri="${uri}", algorithm=MD5`;
  if (qop) {
    const cnonce = randomBytes(8).toString('hex');
    const nc = '00000001';
    out += `, qop=auth, nc=${nc}, cnonce="${cnonce}", response="${md5(`${ha1}:${c.nonce}:${nc}:${cnonce}:auth:${ha2}`)}"`;
  } else {
    out += `, response="${md5(`${ha1}:${c.nonce}:${ha2}`)}"`;
  }
  if (c.opaque !== undefined) out += `, opaque="${c.opaque}"`;
  return out;
}

export function parseDigest(v: string): Record<string, string> | undefined {
  const m = /^\s*Digest\s+(.*)$/i.exec(v);
  if (!m) return undefined;
  const out: Record<string, string> = {};
  const re = /([A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  let g: RegExpExecArray | null;
  // biome-ignore lint/suspicious/noAssignInExpressions: the usual exec loop
  while ((g = re.exec(m[1]!)) !== null) out[g[1]!.toLowerCase()] = g[2] ?? g[3] ?? '';
  return out;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
