import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ResolveRequest, ResolveResult } from '../telephony/gateway.js';
import { ALLOW, SipCall } from './dialog.js';
import { authorize, type DigestCredentials } from './digest.js';
import type { SipLeg } from './leg.js';
import { localAddressFor, loopbackOf, type MediaEnv, newRtpSession, silenceOf, startLeg } from './media.js';
import { addrUri, escapeUser, header, type SipMessage, serializeSip } from './message.js';
import { negotiate, offerSdp } from './sdp.js';
import { newBranch, newTag, type Transactions } from './transactions.js';
import type { Peer, SipTransport } from './transport.js';

/**
 * Outbound calls through a SIP trunk (RFC 3261 as a UAC): INVITE with our SDP offer (PCMU, PCMA,
 * telephone-event) to the trunk, a digest challenge (401 / 407) answered once with the trunk credentials, 180/183
 * reported as ringing, a ring timeout that CANCELs, the final response mapped to an outcome (486/600 busy,
 * 408/480/487 no-answer, others failed), and on 2xx: ACK, the dialog, RTP to the answer's address, and the call
 * handed to the session as a MediaLeg exactly like an inbound one (hangup is a BYE, transfer a REFER).
 *
 *   INVITE ─▶ (401/407 ─▶ ACK, INVITE + credentials) ─▶ 1xx (ringing) ─▶ 2xx ─▶ ACK ─▶ call
 *      └─ ring timeout ─▶ CANCEL ─▶ 487 ─▶ no-answer          └─ 4xx/5xx/6xx ─▶ busy / no-answer / failed
 */
export interface Trunk {
  host: string;
  port: number;
  transport: 'udp' | 'tcp' | 'tls';
  /** Digest credentials the trunk challenges for (INVITE and REGISTER). */
  credentials?: DigestCredentials;
  /** The From user part when the call gives no caller id (the account's number or user name). */
  fromUser?: string;
  /** The domain of From / To and of the request-URI (default: host). */
  domain?: string;
}

export type OutboundOutcome =
  | { kind: 'answered' }
  | { kind: 'busy' | 'no-answer' | 'failed' | 'canceled'; status?: number; reason: string };

export interface PlaceCallRequest {
  trunk: Trunk;
  /** The number (or user) to call: the request-URI user part. */
  to: string;
  from?: string;
  /** Ring timeout, ms: CANCEL after it (no-answer). */
  ringTimeoutMs: number;
  /** How the answered call is resolved (the engine's resolve: the outbound call record). */
  resolveRequest: Omit<ResolveRequest, 'remoteAddress' | 'url'>;
  /** Awaited before the answered call is resolved and before an outcome is reported (the dialer's record). */
  settled?: () => Promise<void>;
  onRinging?(): void;
  /** The call's outcome: answered (the session owns the record from here), or why it was not. */
  onOutcome(outcome: OutboundOutcome): void;
}

export interface OutboundEnv extends MediaEnv {
  tx: Transactions;
  transport: SipTransport;
  /** Our SIP port. */
  port: number;
  calls: Map<string, SipCall>;
  resolve(req: ResolveRequest): Promise<ResolveResult>;
  onEnded(call: SipCall): void;
  /** Our SIP over TLS port, when listening (the Contact of calls placed over TLS). */
  tlsPort?: number;
  /** Trusted besides the system CAs for trunks over TLS. */
  tlsCa?: Buffer;
}

/** Our port as a peer on this transport reaches us. */
export function ourPort(env: { port: number; tlsPort?: number }, peer: Peer): number {
  return peer.proto === 'tls' && env.tlsPort ? env.tlsPort : env.port;
}

/** The trunk's transport address (a TCP trunk: a connection of ours). */
export async function trunkPeer(transport: SipTransport, trunk: Trunk, tlsCa?: Buffer): Promise<Peer> {
  const address = isIP(trunk.host) !== 0 ? trunk.host : (await lookup(trunk.host)).address;
  if (trunk.transport === 'udp') return { proto: 'udp', address, port: trunk.port };
  return transport.connect(address, trunk.port, trunk.transport === 'tls' ? trunk.host : undefined, tlsCa);
}

export function viaFor(peer: Peer, host: string, port: number): string {
  const t = peer.proto.toUpperCase();
  return `SIP/2.0/${t} ${host.includes(':') ? `[${host}]` : host}:${port};branch=${newBranch()};rport`;
}

function hostPort(t: Trunk): string {
  return `${t.domain ?? t.host}${t.domain ? '' : `:${t.port}`}`;
}

/** Final status -> outcome (RFC 3261 21.4-21.6 as carriers use them). */
export function outcomeOf(status: number, reason: string, cancelledByTimeout: boolean): OutboundOutcome {
  const r = `${status} ${reason}`.trim();
  if (status === 486 || status === 600) return { kind: 'busy', status, reason: r };
  if (status === 487) return { kind: cancelledByTimeout ? 'no-answer' : 'canceled', status, reason: r };
  if (status === 408 || status === 480 || status === 603) return { kind: 'no-answer', status, reason: r };
  return { kind: 'failed', status, reason: r };
}

/**
 * Places the call; resolves with our Call-ID once the INVITE is on its way (the trunk is reachable), rejects when
 * it is not (DNS, TCP connect, no RTP port). Everything after is reported through onRinging / onOutcome.
 */
export async function placeCall(env: OutboundEnv, req: PlaceCallRequest): Promise<{ callId: string }> {
  const { trunk } = req;
  const peer = await trunkPeer(env.transport, trunk, env.tlsCa);
  const localHost = localAddressFor(loopbackOf(peer.address), env.host);
  const port = ourPort(env, peer);
  const target: { leg?: SipLeg } = {};
  const session = newRtpSession(env, peer.address, 'PCMU', target);
  await session.open();
  const callId = `${randomBytes(10).toString('hex')}@${localHost}`;
  const localTag = newTag();
  const fromUser = escapeUser(req.from ?? trunk.fromUser ?? trunk.credentials?.username ?? 'voice-engine');
  const ruri = `sip:${escapeUser(req.to)}@${hostPort(trunk)}${trunk.transport === 'udp' ? '' : `;transport=${trunk.transport}`}`;
  const from = `<sip:${fromUser}@${trunk.domain ?? trunk.host}>;tag=${localTag}`;
  const to = `<sip:${escapeUser(req.to)}@${trunk.domain ?? trunk.host}>`;
  const contact = `<sip:${fromUser}@${localHost}:${port}${peer.proto === 'udp' ? '' : `;transport=${peer.proto}`}>`;
  const sdp = offerSdp({ address: localHost, port: session.port, sessionId: Date.now() % 1e9, version: 1 });
  let cseq = 1;
  const invite = (auth?: { name: string; value: string }): SipMessage => {
    const headers = new Map<string, string[]>();
    headers.set('via', [viaFor(peer, localHost, port)]);
    headers.set('max-forwards', ['70']);
    headers.set('from', [from]);
    headers.set('to', [to]);
    headers.set('call-id', [callId]);
    headers.set('cseq', [`${cseq} INVITE`]);
    headers.set('contact', [contact]);
    headers.set('allow', [ALLOW]);
    if (auth) headers.set(auth.name, [auth.value]);
    headers.set('content-type', ['application/sdp']);
    return { method: 'INVITE', uri: ruri, headers, body: Buffer.from(sdp) };
  };

  let ringing = false;
  let timedOut = false;
  let current = invite();
  const onProvisional = (res: SipMessage) => {
    if (!ringing && (res.status === 180 || res.status === 183)) {
      ringing = true;
      req.onRinging?.();
    }
  };
  const cancel = () => {
    // CANCEL (9.1): the INVITE's branch, Call-ID, From, To, CSeq number.
    const headers = new Map<string, string[]>();
    headers.set('via', [header(current, 'via')!]);
    headers.set('max-forwards', ['70']);
    headers.set('from', [from]);
    headers.set('to', [to]);
    headers.set('call-id', [callId]);
    headers.set('cseq', [`${cseq} CANCEL`]);
    env.tx.request({ method: 'CANCEL', uri: ruri, headers, body: Buffer.alloc(0) }, peer).catch(() => undefined);
    env.tx.giveUpIn(current);
  };
  const ringTimer = setTimeout(() => {
    timedOut = true;
    cancel();
  }, req.ringTimeoutMs);
  ringTimer.unref();

  const report = async (o: OutboundOutcome) => {
    clearTimeout(ringTimer);
    await req.settled?.().catch(() => undefined);
    req.onOutcome(o);
  };

  const run = async (): Promise<void> => {
    let res = await env.tx.request(current, peer, onProvisional);
    if ((res.status === 401 || res.status === 407) && trunk.credentials) {
      const challenge = header(res, res.status === 401 ? 'www-authenticate' : 'proxy-authenticate') ?? '';
      const value = authorize(challenge, 'INVITE', ruri, trunk.credentials);
      if (value) {
        cseq++;
        current = invite({ name: res.status === 401 ? 'authorization' : 'proxy-authorization', value });
        res = await env.tx.request(current, peer, onProvisional);
      }
    }
    const status = res.status ?? 0;
    if (status < 200 || status >= 300) {
      session.close();
      await report(outcomeOf(status, res.reason ?? '', timedOut));
      return;
    }
    clearTimeout(ringTimer);
    await answered(res);
  };

  const answered = async (res: SipMessage): Promise<void> => {
    const answer = negotiate(res.body.toString('utf8'));
    const call = new SipCall(
      {
        callId,
        localTag,
        local: from,
        remote: header(res, 'to')!,
        remoteTarget: addrUri(header(res, 'contact') ?? '') || ruri,
        // 12.1.2: the UAC's route set is the 2xx's Record-Route in reverse.
        routeSet: [...(res.headers.get('record-route') ?? [])].reverse(),
        peer,
        localCSeq: cseq,
      },
      answer.ok ? answer.offer : undefined,
      { tx: env.tx, localHost, localPort: port, onEnded: (c) => env.onEnded(c) },
    );
    // ACK the 2xx (13.2.2.4): in the dialog, a new branch, the INVITE's CSeq number; again if the 2xx comes again.
    call.ack = { data: serializeSip(call.inDialog('ACK')) };
    env.transport.send(call.ack.data, peer);
    call.onAck();
    call.rtp = session;
    env.calls.set(callId, call);
    if (timedOut) {
      // The 2xx crossed our CANCEL (9.1): ACKed above, now hung up.
      call.closed('ring timeout');
      await report({ kind: 'no-answer', status: res.status, reason: 'answered after the ring timeout' });
      return;
    }
    if (!answer.ok) {
      call.closed(`no usable SDP answer: ${answer.reason}`);
      await report({ kind: 'failed', status: res.status, reason: `answer not usable: ${answer.reason}` });
      return;
    }
    const offer = answer.offer;
    session.setSilence(silenceOf(offer.codecName));
    session.setRemote(offer.address, offer.port, offer.payloadType, offer.dtmfPayloadType);
    session.setMuted(offer.hold);
    await req.settled?.().catch(() => undefined);
    const r = await env.resolve({ ...req.resolveRequest, remoteAddress: peer.address, url: ruri });
    if (!r.ok) {
      call.closed(`not resolved: ${r.reason}`);
      req.onOutcome({ kind: 'failed', status: res.status, reason: `answered, but ${r.reason}` });
      return;
    }
    if (call.state === 'ended') {
      // The far end hung up while the record was being resolved.
      r.call.release?.();
      req.onOutcome({ kind: 'failed', status: res.status, reason: 'answered, then hung up at once' });
      return;
    }
    call.onClose = () => r.call.release?.();
    req.onOutcome({ kind: 'answered' });
    target.leg = startLeg(env, call, session, offer, r.call, {
      from: req.from ?? trunk.fromUser,
      to: req.to,
      remoteAddress: peer.address,
    });
  };

  void run().catch(async (err: unknown) => {
    session.close();
    await report({ kind: 'failed', reason: `SIP: ${(err as Error).message}` });
  });
  return { callId };
}
