import type { Logger } from '../log.js';
import type { ResolvedCall, ResolveRequest, ResolveResult } from '../telephony/gateway.js';
import type { MediaLeg } from '../telephony/leg.js';
import type { Pacer } from '../telephony/pacer.js';
import { ALLOW, SipCall } from './dialog.js';
import { type DigestCredentials, DigestServer } from './digest.js';
import type { SipLeg } from './leg.js';
import { localAddressFor, newRtpSession, startLeg } from './media.js';
import { addrUri, header, headerParams, makeResponse, parseUri, type SipMessage, tagOf } from './message.js';
import { type OutboundEnv, type PlaceCallRequest, placeCall } from './outbound.js';
import { Registration, type RegistrationOptions, type RegistrationStatus } from './register.js';
import type { RtpPortRange, RtpSession } from './rtp-session.js';
import { negotiate } from './sdp.js';
import { newTag, Transactions } from './transactions.js';
import { type Peer, SipTransport } from './transport.js';

/**
 * The SIP user agent server (issue 19): SIP trunks and PBXs call the engine directly. A call's request-URI user
 * part chooses the assistant: an assistant API key (`ast_…`) or a number routed with /account/number-routing. The
 * admission policy (deps.admit) says whether the source may call it as it is, must pass digest authentication with
 * the tenant's SIP credentials, or is refused; deps.resolve (the same as the media WebSocket gateway's) then creates
 * the call record, and the call reaches the session as one more MediaLeg (src/sip/leg.ts).
 *
 * Bad input: an unparsable message is dropped and counted (no response can be routed without its Via); an INVITE
 * flood is bounded by new INVITEs per second per source IP, calls being set up at once and calls in total, each
 * refused with 503 + Retry-After while calls in progress are unaffected.
 */
export type SipAdmission =
  | { kind: 'allow' }
  | { kind: 'digest'; credentials: DigestCredentials }
  | { kind: 'reject'; status: number; reason: string };

export interface SipLimits {
  maxCalls: number;
  /** INVITEs being authenticated / resolved at once. */
  maxPending: number;
  /** New INVITEs per second from one IP address. */
  invitesPerSecondPerIp: number;
}

export const DEFAULT_SIP_LIMITS: Readonly<SipLimits> = Object.freeze({
  maxCalls: 1000,
  maxPending: 64,
  invitesPerSecondPerIp: 50,
});

export interface SipServerOptions {
  host: string;
  port: number;
  rtp: RtpPortRange;
  logger: Logger;
  pacer: Pacer;
  leadMs: number;
  limits?: Partial<SipLimits>;
  admit(user: string, remoteAddress: string): Promise<SipAdmission>;
  resolve(req: ResolveRequest): Promise<ResolveResult>;
  onCall(leg: MediaLeg, call: ResolvedCall): void;
  /** SIP over TLS on its own port (SIP_TLS_PORT, SIP_TLS_CERT, SIP_TLS_KEY); `ca` is also trusted for trunks. */
  tls?: { port: number; cert: Buffer; key: Buffer; ca?: Buffer };
}

export interface SipServerStats {
  activeCalls: number;
  invites: number;
  rejected: Record<string, number>;
  malformed: number;
  foreignRtp: number;
}

export interface SipServer {
  readonly port: number;
  /** The TLS port, when SIP over TLS is on. */
  readonly tlsPort: number | undefined;
  readonly activeCalls: number;
  /** An outbound call through a trunk (src/sip/outbound.ts); resolves once the INVITE is on its way. */
  dial(req: PlaceCallRequest): Promise<{ callId: string }>;
  /** Keep a registration to a trunk under `key` (a changed configuration replaces it); unregister(key) ends it. */
  register(key: string, opts: RegistrationOptions): void;
  unregister(key: string): Promise<void>;
  registrations(): Record<string, RegistrationStatus>;
  drain(): void;
  stats(): SipServerStats;
  /** BYE to every call, unregister from every trunk, close the sockets. */
  close(): Promise<void>;
}

const RESOLVE_STATUS: Record<number, [number, string]> = {
  4001: [404, 'Not Found'],
  4003: [403, 'Forbidden'],
  4030: [486, 'Busy Here'],
};

export async function startSipServer(opts: SipServerOptions): Promise<SipServer> {
  const limits: SipLimits = { ...DEFAULT_SIP_LIMITS, ...opts.limits };
  const { logger } = opts;
  const calls = new Map<string, SipCall>();
  /** INVITEs not answered yet, by top Via branch (CANCEL matches them). */
  const pending = new Map<string, { cancelled: boolean; invite: SipMessage; peer: Peer; tag: string }>();
  const perIp = new Map<string, number>();
  let window = 0;
  let draining = false;
  const totals = { invites: 0, malformed: 0, foreignRtp: 0 };
  const rejected: Record<string, number> = {};
  const digest = new DigestServer('voice-engine');
  let lastMalformedLog = 0;

  const transport = new SipTransport(
    (msg, peer) => {
      try {
        onMessage(msg, peer);
      } catch (err) {
        logger.error({ err, peer: peer.address }, 'SIP message handling failed');
      }
    },
    (peer, reason) => {
      totals.malformed++;
      const now = Date.now();
      if (now - lastMalformedLog > 60_000) {
        lastMalformedLog = now;
        logger.warn({ peer: peer.address, reason }, 'malformed SIP message dropped (logged once a minute)');
      }
    },
  );
  const tx = new Transactions((data, peer) => transport.send(data, peer));
  const port = await transport.listen(opts.host, opts.port);
  const tlsPort = opts.tls ? await transport.listenTls(opts.host, opts.tls.port, opts.tls) : undefined;
  const registrations = new Map<string, { config: string; reg: Registration }>();
  const outboundEnv: OutboundEnv = {
    ...opts,
    tx,
    transport,
    port,
    calls,
    ...(tlsPort ? { tlsPort } : {}),
    ...(opts.tls?.ca ? { tlsCa: opts.tls.ca } : {}),
    onEnded: (c) => {
      if (calls.get(c.callId) === c) calls.delete(c.callId);
      totals.foreignRtp += c.rtp?.stats.foreign ?? 0;
    },
  };

  const respond = (req: SipMessage, peer: Peer, status: number, reason: string, extra?: Record<string, string>) => {
    const res = makeResponse(req, status, reason, status >= 200 && req.method === 'INVITE' ? newTag() : undefined);
    for (const [k, v] of Object.entries(extra ?? {})) res.headers.set(k, [v]);
    if (status >= 300) rejected[status] = (rejected[status] ?? 0) + 1;
    tx.respond(req, res, peer);
  };

  function onMessage(msg: SipMessage, peer: Peer): void {
    if (msg.status !== undefined) {
      if (tx.onResponse(msg)) return;
      // A 2xx to an INVITE of ours came again: our ACK was lost (13.2.2.4).
      const call = calls.get(header(msg, 'call-id') ?? '');
      if (call?.ack && msg.status >= 200 && msg.status < 300) transport.send(call.ack.data, call.peer);
      return;
    }
    if (tx.absorb(msg)) return;
    const callId = header(msg, 'call-id')!;
    switch (msg.method) {
      case 'INVITE':
        if (tagOf(header(msg, 'to')) !== undefined) {
          const call = calls.get(callId);
          if (call) call.onReInvite(msg, peer);
          else respond(msg, peer, 481, 'Call/Transaction Does Not Exist');
        } else {
          void onInvite(msg, peer).catch((err: unknown) => {
            logger.error({ err }, 'SIP INVITE handling failed');
            respond(msg, peer, 500, 'Server Internal Error');
          });
        }
        return;
      case 'ACK':
        calls.get(callId)?.onAck();
        return;
      case 'CANCEL': {
        const branch = headerParams(header(msg, 'via')!).get('branch') ?? '';
        const p = pending.get(branch);
        if (!p) {
          // Too late: the INVITE was answered (RFC 3261 9.2: the CANCEL has no effect; the caller ACKs, then BYE).
          if (calls.has(callId)) respond(msg, peer, 200, 'OK');
          else respond(msg, peer, 481, 'Call/Transaction Does Not Exist');
          return;
        }
        respond(msg, peer, 200, 'OK');
        p.cancelled = true;
        pending.delete(branch);
        const res = makeResponse(p.invite, 487, 'Request Terminated', p.tag);
        tx.respond(p.invite, res, p.peer);
        return;
      }
      case 'BYE': {
        const call = calls.get(callId);
        if (!call) {
          respond(msg, peer, 481, 'Call/Transaction Does Not Exist');
          return;
        }
        respond(msg, peer, 200, 'OK');
        call.onRemoteEnd('caller hangup');
        return;
      }
      case 'OPTIONS':
        respond(msg, peer, 200, 'OK', { allow: ALLOW, accept: 'application/sdp' });
        return;
      case 'NOTIFY':
      case 'INFO': {
        const call = calls.get(callId);
        if (!call) {
          respond(msg, peer, 481, 'Call/Transaction Does Not Exist');
          return;
        }
        respond(msg, peer, 200, 'OK');
        // SIP INFO DTMF (application/dtmf-relay), which some PBXs send instead of RFC 4733.
        const m = msg.method === 'INFO' ? /Signal\s*=\s*([0-9*#A-Da-d])/.exec(msg.body.toString('utf8')) : null;
        if (m) call.leg?.receiveDtmf(m[1]!.toUpperCase(), 100);
        return;
      }
      default:
        respond(msg, peer, 405, 'Method Not Allowed', { allow: ALLOW });
    }
  }

  async function onInvite(invite: SipMessage, peer: Peer): Promise<void> {
    totals.invites++;
    const sec = Math.floor(Date.now() / 1000);
    if (sec !== window) {
      window = sec;
      perIp.clear();
    }
    const n = (perIp.get(peer.address) ?? 0) + 1;
    perIp.set(peer.address, n);
    if (draining) return respond(invite, peer, 503, 'Service Unavailable', { 'retry-after': '30' });
    if (n > limits.invitesPerSecondPerIp || pending.size >= limits.maxPending || calls.size >= limits.maxCalls) {
      return respond(invite, peer, 503, 'Service Unavailable', { 'retry-after': '5' });
    }
    const uri = parseUri(invite.uri ?? '');
    if (!uri?.user) return respond(invite, peer, 404, 'Not Found');
    const user = uri.user;
    const r = negotiate(invite.body.toString('utf8'));
    if (!r.ok) return respond(invite, peer, 488, 'Not Acceptable Here', { warning: `399 voice-engine "${r.reason}"` });
    const branch = headerParams(header(invite, 'via')!).get('branch') ?? '';
    const p = { cancelled: false, invite, peer, tag: newTag() };
    pending.set(branch, p);
    tx.respond(invite, makeResponse(invite, 100, 'Trying'), peer);
    let rtp: RtpSession | undefined;
    try {
      const admission = await opts.admit(user, peer.address);
      if (p.cancelled) return;
      if (admission.kind === 'reject') return respond(invite, peer, admission.status, admission.reason);
      if (admission.kind === 'digest') {
        const auth = header(invite, 'authorization');
        const v = auth ? digest.verify(auth, 'INVITE', admission.credentials) : 'bad';
        if (v !== 'ok') {
          const challenge = digest.challenge(Date.now(), v === 'stale');
          return respond(invite, peer, 401, 'Unauthorized', { 'www-authenticate': challenge });
        }
      }
      // The media port first: the call record is created (by resolve) only for a call we can take.
      const target: { leg?: SipLeg } = {};
      const session = newRtpSession(opts, peer.address, r.offer.codecName, target);
      try {
        await session.open();
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'SIP call refused: no RTP port');
        return respond(invite, peer, 503, 'Service Unavailable', { 'retry-after': '5' });
      }
      rtp = session;
      if (p.cancelled) return;
      const isKey = user.startsWith('ast_');
      const from = parseUri(addrUri(header(invite, 'from')!))?.user;
      const res = await opts.resolve({
        protocol: 'sip',
        // A routed number got here through admission (allowlist or digest): the tenant's own credential.
        ...(isKey ? { pathKey: user } : { to: user, admitted: true as const }),
        from,
        customParameters: {},
        remoteAddress: peer.address,
        headers: {},
        url: invite.uri ?? '',
      });
      if (p.cancelled) {
        // CANCELled while the record was being created (487 already sent): the record is closed, never left live.
        if (res.ok) res.call.release?.();
        return;
      }
      if (!res.ok) {
        const [status, reason] = RESOLVE_STATUS[res.code] ?? [480, 'Temporarily Unavailable'];
        return respond(invite, peer, status, reason, { warning: `399 voice-engine "${res.reason}"` });
      }
      const resolved = res.call;
      const call = SipCall.answering(invite, peer, r.offer, p.tag, {
        tx,
        localHost: localAddressFor(uri.host, opts.host),
        localPort: peer.proto === 'tls' && tlsPort ? tlsPort : port,
        onEnded: (c) => {
          if (calls.get(c.callId) === c) calls.delete(c.callId);
          totals.foreignRtp += session.stats.foreign;
          resolved.release?.();
        },
      });
      call.rtp = session;
      rtp = undefined; // the dialog owns it now
      session.setRemote(r.offer.address, r.offer.port, r.offer.payloadType, r.offer.dtmfPayloadType);
      session.setMuted(r.offer.hold);
      calls.set(call.callId, call);
      pending.delete(branch);
      tx.respond(invite, makeResponse(invite, 180, 'Ringing', p.tag), peer);
      call.accept();
      target.leg = startLeg(opts, call, session, r.offer, resolved, { from, to: user, remoteAddress: peer.address });
    } finally {
      pending.delete(branch);
      rtp?.close();
    }
  }

  return {
    port,
    tlsPort,
    dial(req) {
      if (draining) return Promise.reject(new Error('SIP is shutting down'));
      if (calls.size >= limits.maxCalls) return Promise.reject(new Error('SIP call limit reached'));
      return placeCall(outboundEnv, req);
    },
    register(key, o) {
      const config = JSON.stringify(o);
      const have = registrations.get(key);
      if (have?.config === config || draining) return;
      if (have) void have.reg.stop();
      const reg = new Registration({ ...outboundEnv, logger }, o);
      registrations.set(key, { config, reg });
      reg.start();
    },
    async unregister(key) {
      const have = registrations.get(key);
      registrations.delete(key);
      await have?.reg.stop();
    },
    registrations() {
      return Object.fromEntries([...registrations].map(([k, v]) => [k, { ...v.reg.status }]));
    },
    get activeCalls() {
      return calls.size;
    },
    drain() {
      draining = true;
    },
    stats() {
      let foreign = totals.foreignRtp;
      for (const c of calls.values()) foreign += c.rtp?.stats.foreign ?? 0;
      return {
        activeCalls: calls.size,
        invites: totals.invites,
        rejected: { ...rejected },
        malformed: totals.malformed,
        foreignRtp: foreign,
      };
    },
    async close() {
      draining = true;
      // BYE to every call (not waiting for the answers), then the legs end.
      for (const c of [...calls.values()]) {
        c.closed('server shutting down');
        c.leg?.end('server shutting down');
      }
      // Unregister from the trunks (Expires: 0), bounded: a registrar that does not answer does not hold us up.
      const unregistered = Promise.all([...registrations.values()].map((r) => r.reg.stop()));
      registrations.clear();
      await Promise.race([unregistered, new Promise((r) => setTimeout(r, 5000).unref())]);
      tx.close();
      await transport.close();
    },
  };
}
