import type { SipLeg } from './leg.js';
import { addrUri, header, makeResponse, parseUri, type SipMessage } from './message.js';
import type { RtpSession } from './rtp-session.js';
import { answerDirection, buildSdp, negotiate, type SdpOffer } from './sdp.js';
import { newBranch, type Transactions } from './transactions.js';
import type { Peer } from './transport.js';

/**
 * One inbound call's dialog (RFC 3261 section 12) as the UAS:
 *
 *   INVITE ─▶ 100 ─▶ (auth, resolve, RTP port) ─▶ 180 ─▶ 200+SDP ─ACK─▶ CONFIRMED ─BYE (either way)─▶ ENDED
 *      └─ CANCEL before the 200 ─▶ 487 ─▶ ENDED          re-INVITE ─▶ 200+SDP (hold: a=recvonly, no RTP out)
 *
 * Requests we send in the dialog (BYE, REFER) go to the peer the INVITE came from over the same transport (the
 * caller may be behind NAT), with the INVITE's Record-Route as our route set and its Contact as request-URI.
 */
export interface DialogEnv {
  tx: Transactions;
  /** Our address as the peer reaches us (Via, Contact, SDP). */
  localHost: string;
  localPort: number;
  onEnded(call: SipCall): void;
}

/** A dialog's identity and routing (RFC 3261 12.1), from either side. */
export interface DialogInit {
  callId: string;
  localTag: string;
  /** Our party (From of the INVITE we sent, To of the one we answer), with our tag. */
  local: string;
  /** The far end's party, with its tag. */
  remote: string;
  /** Where in-dialog requests go (the far end's Contact). */
  remoteTarget: string;
  /** Route headers for in-dialog requests, in order. */
  routeSet: string[];
  peer: Peer;
  /** The INVITE we answer (UAS); none for a call we placed. */
  invite?: SipMessage;
  /** The last CSeq number we used in this dialog. */
  localCSeq: number;
}

export class SipCall {
  readonly callId: string;
  readonly localTag: string;
  readonly peer: Peer;
  readonly invite: SipMessage | undefined;
  state: 'early' | 'confirmed' | 'ended' = 'early';
  cancelled = false;
  leg: SipLeg | undefined;
  rtp: RtpSession | undefined;
  /** A call we placed: our ACK of its 2xx, sent again when the 2xx is retransmitted (13.2.2.4). */
  ack: { data: Buffer } | undefined;
  private localCSeq: number;
  private sdpVersion = 1;
  private readonly sessionId = Math.floor(Math.random() * 1e9);
  private readonly local: string;
  private readonly remote: string;
  private readonly remoteTarget: string;
  private readonly routeSet: string[];
  private byeSent = false;
  private offer: SdpOffer | undefined;
  /** Called once when the call ends (the call record's slot). */
  onClose: (() => void) | undefined;

  constructor(
    init: DialogInit,
    offer: SdpOffer | undefined,
    private readonly env: DialogEnv,
  ) {
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.peer = init.peer;
    this.invite = init.invite;
    this.local = init.local;
    this.remote = init.remote;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.localCSeq = init.localCSeq;
    this.offer = offer;
  }

  /** The dialog of an INVITE we answer (12.1.1): its Record-Route as is, its Contact as the remote target. */
  static answering(invite: SipMessage, peer: Peer, offer: SdpOffer, localTag: string, env: DialogEnv): SipCall {
    return new SipCall(
      {
        callId: header(invite, 'call-id')!,
        localTag,
        local: withTag(header(invite, 'to')!, localTag),
        remote: header(invite, 'from')!,
        remoteTarget: addrUri(header(invite, 'contact') ?? '') || addrUri(header(invite, 'from')!),
        routeSet: [...(invite.headers.get('record-route') ?? [])],
        peer,
        invite,
        localCSeq: 1,
      },
      offer,
      env,
    );
  }

  get contact(): string {
    const t = this.peer.proto === 'udp' ? '' : `;transport=${this.peer.proto}`;
    return `<sip:${hostPart(this.env.localHost)}:${this.env.localPort}${t}>`;
  }

  /** Our SDP answer to the current offer. */
  answerSdp(): string {
    if (!this.offer) throw new Error('no SDP offer in this dialog');
    return buildSdp(
      { address: this.env.localHost, port: this.rtp!.port, sessionId: this.sessionId, version: this.sdpVersion },
      [this.offer],
      this.offer.dtmfPayloadType,
      answerDirection(this.offer),
    );
  }

  /** The final 200 to the INVITE we answer, retransmitted until the ACK. */
  accept(): void {
    if (!this.invite) return;
    const res = makeResponse(this.invite, 200, 'OK', this.localTag);
    res.headers.set('contact', [this.contact]);
    res.headers.set('allow', [ALLOW]);
    if (this.routeSet.length) res.headers.set('record-route', this.routeSet);
    res.headers.set('content-type', ['application/sdp']);
    res.body = Buffer.from(this.answerSdp());
    this.env.tx.respondUntilAck(this.invite, res, this.peer, () => {
      // No ACK within 64*T1: the caller never saw our answer (13.3.1.4): end the call with a BYE.
      if (this.state !== 'ended') void this.bye('no ACK').then(() => this.closed('no ACK'));
    });
  }

  onAck(): void {
    this.env.tx.ack(this.callId);
    if (this.state === 'early') this.state = 'confirmed';
  }

  /** re-INVITE in the dialog: new offer (hold / resume / new address); answered 200 or 488. */
  onReInvite(req: SipMessage, peer: Peer): void {
    const r = negotiate(req.body.toString('utf8'));
    if (!r.ok) {
      this.env.tx.respond(req, makeResponse(req, 488, 'Not Acceptable Here'), peer);
      return;
    }
    this.offer = r.offer;
    this.sdpVersion++;
    if (!r.offer.hold) this.rtp?.setRemote(r.offer.address, r.offer.port, r.offer.payloadType, r.offer.dtmfPayloadType);
    // On hold (sendonly / inactive / c=0.0.0.0) the far end wants none of our audio: we answer recvonly and send none.
    this.rtp?.setMuted(r.offer.hold);
    const res = makeResponse(req, 200, 'OK');
    res.headers.set('contact', [this.contact]);
    res.headers.set('content-type', ['application/sdp']);
    res.body = Buffer.from(this.answerSdp());
    this.env.tx.respondUntilAck(req, res, peer, () => undefined);
  }

  /** The caller hung up (BYE) or cancelled. */
  onRemoteEnd(reason: string): void {
    if (this.state === 'ended') return;
    this.byeSent = true; // nothing to send any more
    this.leg?.end(reason);
    this.closed(reason);
  }

  /** A request of ours in this dialog. */
  inDialog(method: string, extra: Record<string, string> = {}): SipMessage {
    const headers = new Map<string, string[]>();
    const t = this.peer.proto.toUpperCase();
    headers.set('via', [
      `SIP/2.0/${t} ${hostPart(this.env.localHost)}:${this.env.localPort};branch=${newBranch()};rport`,
    ]);
    headers.set('max-forwards', ['70']);
    if (this.routeSet.length) headers.set('route', [...this.routeSet]); // 12.1.1: the UAS keeps Record-Route's order
    headers.set('from', [this.local]);
    headers.set('to', [this.remote]);
    headers.set('call-id', [this.callId]);
    headers.set('cseq', [`${method === 'ACK' ? this.localCSeq : ++this.localCSeq} ${method}`]);
    headers.set('contact', [this.contact]);
    for (const [k, v] of Object.entries(extra)) headers.set(k, [v]);
    return { method, uri: this.remoteTarget, headers, body: Buffer.alloc(0) };
  }

  async bye(_reason: string): Promise<'done' | 'already-ended'> {
    if (this.byeSent || this.state === 'ended') return 'already-ended';
    this.byeSent = true;
    try {
      await this.env.tx.request(this.inDialog('BYE'), this.peer);
    } catch {
      // No answer to our BYE: the call is over on our side anyway.
    }
    return 'done';
  }

  /** Cold transfer (RFC 3515): REFER the caller to `target`; rejects unless the far end accepts (2xx). */
  async refer(target: string): Promise<void> {
    if (this.state === 'ended') throw new Error('transfer: the call has ended');
    const referTo = referTarget(target, this.peer.address);
    const res = await this.env.tx.request(
      this.inDialog('REFER', { 'refer-to': `<${referTo}>`, 'referred-by': this.contact }),
      this.peer,
    );
    if ((res.status ?? 0) >= 300) throw new Error(`transfer: REFER answered ${res.status} ${res.reason ?? ''}`);
  }

  /** The leg closed: send BYE if we have not, release RTP, forget the dialog. */
  closed(reason: string): void {
    if (this.state === 'ended') return;
    if (!this.byeSent && !this.cancelled) void this.bye(reason);
    this.state = 'ended';
    this.env.tx.ack(this.callId);
    this.rtp?.close();
    this.env.onEnded(this);
    this.onClose?.();
  }
}

export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, INFO';

function hostPart(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function withTag(v: string, tag: string): string {
  return /;\s*tag=/i.test(v) ? v : `${v};tag=${tag}`;
}

/** A SIP URI as is; a phone number (E.164 or digits) as `sip:<number>@<the caller's host>`, where it came from. */
export function referTarget(target: string, peerHost: string): string {
  const t = target.trim();
  if (/^sips?:/i.test(t)) {
    if (!parseUri(t)) throw new Error(`transfer: bad SIP URI ${JSON.stringify(target)}`);
    return t;
  }
  const num = t.replace(/^tel:/i, '');
  if (!/^\+?[0-9*#]{1,32}$/.test(num)) throw new Error(`transfer: not a number or SIP URI: ${JSON.stringify(target)}`);
  return `sip:${num}@${hostPart(peerHost)}`;
}
