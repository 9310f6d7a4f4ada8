import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import { authorize } from './digest.js';
import { localAddressFor, loopbackOf } from './media.js';
import { addrUri, escapeUser, header, headerParams, type SipMessage } from './message.js';
import { ourPort, type Trunk, trunkPeer, viaFor } from './outbound.js';
import { newTag, type Transactions } from './transactions.js';
import type { SipTransport } from './transport.js';

/**
 * Registration to a trunk that asks for it (RFC 3261 section 10): REGISTER our Contact for the account's
 * address-of-record, answer the digest challenge (401 / 407) with the trunk credentials, refresh before the
 * granted expiry runs out, retry after a failure, and unregister (Expires: 0) on stop. One Call-ID per
 * registration, CSeq going up (10.2), one timer per registration.
 */
export type RegistrationState = 'registering' | 'registered' | 'failed' | 'stopped';

export interface RegistrationStatus {
  state: RegistrationState;
  /** Seconds the registrar granted (last 2xx). */
  expires?: number;
  /** When the registration was last refreshed (ISO time). */
  registeredAt?: string;
  /** The last failure, e.g. `403 Forbidden`. */
  error?: string;
  /** REGISTER requests answered 2xx so far (refreshes included). */
  refreshes: number;
}

export interface RegistrationEnv {
  tx: Transactions;
  transport: SipTransport;
  /** Our SIP port and bind host. */
  port: number;
  host: string;
  logger: Logger;
  tlsPort?: number;
  tlsCa?: Buffer;
}

export interface RegistrationOptions {
  trunk: Trunk;
  /** The account's user part (the address-of-record is sip:user@domain). */
  user: string;
  /** Expiry we ask for, s. */
  expiresS: number;
  /** Wait before trying again after a failure, ms (default 30 s; a 423's Min-Expires is taken at once). */
  retryMs?: number;
}

/** When to refresh a registration granted for `s` seconds: halfway for short ones, 30 s before for long ones. */
export function refreshInMs(s: number): number {
  return Math.max(1000, (s - Math.min(s / 2, 30)) * 1000);
}

export class Registration {
  readonly status: RegistrationStatus = { state: 'registering', refreshes: 0 };
  private readonly callId = `${randomBytes(10).toString('hex')}@voice-engine`;
  private readonly tag = newTag();
  private cseq = 0;
  private timer: NodeJS.Timeout | undefined;
  private expiresS: number;
  private running: Promise<void> | undefined;
  private stopping = false;

  constructor(
    private readonly env: RegistrationEnv,
    private readonly opts: RegistrationOptions,
  ) {
    this.expiresS = opts.expiresS;
  }

  start(): void {
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopping) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.register(this.expiresS).then((granted) => {
        if (this.stopping) return;
        if (granted !== undefined) this.schedule(refreshInMs(granted));
        else this.schedule(this.opts.retryMs ?? 30_000);
      });
    }, ms);
    this.timer.unref();
  }

  /** One REGISTER (with its challenge round); the granted expiry, or undefined on failure. */
  private async register(expires: number): Promise<number | undefined> {
    const { trunk } = this.opts;
    const log = this.env.logger;
    try {
      const peer = await trunkPeer(this.env.transport, trunk, this.env.tlsCa);
      const localHost = localAddressFor(loopbackOf(peer.address), this.env.host);
      const port = ourPort(this.env, peer);
      const domain = trunk.domain ?? trunk.host;
      const ruri = `sip:${domain}${trunk.domain ? '' : `:${trunk.port}`}${trunk.transport === 'udp' ? '' : `;transport=${trunk.transport}`}`;
      const aor = `<sip:${escapeUser(this.opts.user)}@${domain}>`;
      const contact = `<sip:${escapeUser(this.opts.user)}@${localHost}:${port}${peer.proto === 'udp' ? '' : `;transport=${peer.proto}`}>`;
      const request = (auth?: { name: string; value: string }): SipMessage => {
        const headers = new Map<string, string[]>();
        headers.set('via', [viaFor(peer, localHost, port)]);
        headers.set('max-forwards', ['70']);
        headers.set('from', [`${aor};tag=${this.tag}`]);
        headers.set('to', [aor]);
        headers.set('call-id', [this.callId]);
        headers.set('cseq', [`${++this.cseq} REGISTER`]);
        headers.set('contact', [contact]);
        headers.set('expires', [String(expires)]);
        if (auth) headers.set(auth.name, [auth.value]);
        return { method: 'REGISTER', uri: ruri, headers, body: Buffer.alloc(0) };
      };
      let res = await this.env.tx.request(request(), peer);
      if ((res.status === 401 || res.status === 407) && trunk.credentials) {
        const challenge = header(res, res.status === 401 ? 'www-authenticate' : 'proxy-authenticate') ?? '';
        const value = authorize(challenge, 'REGISTER', ruri, trunk.credentials);
        if (value) {
          const name = res.status === 401 ? 'authorization' : 'proxy-authorization';
          res = await this.env.tx.request(request({ name, value }), peer);
        }
      }
      const status = res.status ?? 0;
      if (status === 423 && expires > 0) {
        // Interval Too Brief: ask again with the registrar's minimum (10.2.8).
        const min = Number(header(res, 'min-expires'));
        if (Number.isFinite(min) && min > expires) {
          this.expiresS = min;
          return this.register(min);
        }
      }
      if (status < 200 || status >= 300) {
        this.status.state = expires === 0 ? 'stopped' : 'failed';
        this.status.error = `${status} ${res.reason ?? ''}`.trim();
        if (expires > 0) log.warn({ trunk: trunk.host, error: this.status.error }, 'SIP registration refused');
        return undefined;
      }
      if (expires === 0) return 0;
      const granted = grantedExpiry(res, contact, expires);
      this.status.state = 'registered';
      this.status.expires = granted;
      this.status.registeredAt = new Date().toISOString();
      this.status.refreshes++;
      delete this.status.error;
      return granted;
    } catch (err) {
      this.status.state = expires === 0 ? 'stopped' : 'failed';
      this.status.error = (err as Error).message;
      if (expires > 0) log.warn({ trunk: trunk.host, error: this.status.error }, 'SIP registration failed');
      return undefined;
    }
  }

  /** Unregister (Expires: 0) when registered, and stop refreshing. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running;
    if (this.status.state === 'registered') await this.register(0);
    this.status.state = 'stopped';
  }
}

/** The expiry the registrar granted our Contact: its `expires` parameter in the 2xx, else Expires, else asked. */
function grantedExpiry(res: SipMessage, ours: string, asked: number): number {
  const mine = addrUri(ours);
  for (const c of res.headers.get('contact') ?? []) {
    for (const one of c.split(/,(?=\s*<)/)) {
      if (addrUri(one) !== mine) continue;
      const e = Number(headerParams(one).get('expires'));
      if (Number.isFinite(e) && e > 0) return e;
    }
  }
  const e = Number(header(res, 'expires'));
  return Number.isFinite(e) && e > 0 ? e : asked;
}
