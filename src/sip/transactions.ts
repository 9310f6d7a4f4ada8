import { randomBytes } from 'node:crypto';
import { header, headerParams, parseCSeq, type SipMessage, serializeSip, tagOf } from './message.js';
import type { Peer } from './transport.js';

/**
 * The transaction layer we need (RFC 3261 section 17), on ONE shared timer (100 ms), not a timer per message:
 *
 * - server transactions: the last response to each request is kept (by top Via branch and method) for 32 s, so a
 *   retransmitted request gets the same response again and is not handled twice;
 * - a 2xx to INVITE over UDP is retransmitted (T1 doubling up to T2) until its ACK (13.3.1.4); no ACK within
 *   64*T1 reports the call as failed (the UAS then sends BYE);
 * - client transactions (our INVITE, CANCEL, BYE, REFER, REGISTER): the request is retransmitted over UDP until a
 *   response, and rejected after 64*T1 (Timers B / F); an INVITE that got a provisional waits for its final
 *   response as long as the caller of request() wants (the ring timeout is the UAC's: it CANCELs). A non-2xx final
 *   response to our INVITE is ACKed here (17.1.1.3), and again when it is retransmitted; the ACK of a 2xx is the
 *   dialog's (13.2.2.4).
 */
export const T1 = 500;
const T2 = 4000;
const TIMEOUT = 64 * T1;

interface ServerEntry {
  data?: Buffer;
  peer: Peer;
  expires: number;
}

interface Retransmit {
  data: Buffer;
  peer: Peer;
  next: number;
  interval: number;
  deadline: number;
}

interface ClientTx extends Retransmit {
  req: SipMessage;
  resolve(res: SipMessage): void;
  reject(err: Error): void;
  onProvisional?: (res: SipMessage) => void;
  invite: boolean;
  provisional: boolean;
}

interface AckWait extends Retransmit {
  onTimeout(): void;
}

export function newBranch(): string {
  return `z9hG4bK${randomBytes(8).toString('hex')}`;
}

export function newTag(): string {
  return randomBytes(6).toString('hex');
}

function serverKey(req: SipMessage): string {
  const via = header(req, 'via') ?? '';
  const branch = headerParams(via).get('branch');
  // ACK to a non-2xx and CANCEL match their INVITE's branch but are transactions of their own (17.2.3).
  const method = req.method === 'ACK' ? 'INVITE' : req.method;
  if (branch?.startsWith('z9hG4bK')) return `${branch}|${method}`;
  return `${header(req, 'call-id')}|${header(req, 'cseq')}|${tagOf(header(req, 'from'))}|${method}`;
}

export class Transactions {
  private readonly server = new Map<string, ServerEntry>();
  private readonly client = new Map<string, ClientTx>();
  /** ACKs we sent to non-2xx final responses, by client key: a retransmitted response gets the ACK again. */
  private readonly acked = new Map<string, { data: Buffer; peer: Peer; expires: number }>();
  private readonly acks = new Map<string, AckWait>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly send: (data: Buffer, peer: Peer) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.tick(), 100);
    this.timer.unref();
  }

  get size(): number {
    return this.server.size + this.client.size + this.acks.size;
  }

  /** true when `req` is a retransmission (its response, if any, was sent again): do not handle it. */
  absorb(req: SipMessage): boolean {
    const e = this.server.get(serverKey(req));
    if (!e) {
      if (req.method !== 'ACK')
        this.server.set(serverKey(req), {
          peer: { proto: 'udp', address: '', port: 0 },
          expires: this.now() + TIMEOUT,
        });
      return false;
    }
    if (req.method === 'ACK') return true; // ACK to our non-2xx final response: absorbed
    if (e.data) this.send(e.data, e.peer);
    return true;
  }

  respond(req: SipMessage, res: SipMessage, peer: Peer): void {
    const data = serializeSip(res);
    this.server.set(serverKey(req), { data, peer, expires: this.now() + TIMEOUT });
    this.send(data, peer);
  }

  /** A 2xx to INVITE: retransmitted over UDP until ack(callId) (13.3.1.4). */
  respondUntilAck(req: SipMessage, res: SipMessage, peer: Peer, onTimeout: () => void): void {
    this.respond(req, res, peer);
    if (peer.proto !== 'udp') return;
    const t = this.now();
    const data = serializeSip(res);
    this.acks.set(header(req, 'call-id')!, {
      data,
      peer,
      next: t + T1,
      interval: T1,
      deadline: t + TIMEOUT,
      onTimeout,
    });
  }

  ack(callId: string): void {
    this.acks.delete(callId);
  }

  /**
   * Sends a request and resolves with its final response (rejects after Timer B / F, or for an INVITE that got a
   * provisional, when the caller stops waiting: the UAC CANCELs). `onProvisional` sees each 1xx.
   */
  request(req: SipMessage, peer: Peer, onProvisional?: (res: SipMessage) => void): Promise<SipMessage> {
    const data = serializeSip(req);
    this.send(data, peer);
    const t = this.now();
    return new Promise((resolve, reject) => {
      this.client.set(clientKey(req), {
        req,
        data,
        peer,
        next: peer.proto === 'udp' ? t + T1 : Number.POSITIVE_INFINITY,
        interval: T1,
        deadline: t + TIMEOUT,
        resolve,
        reject,
        onProvisional,
        invite: req.method === 'INVITE',
        provisional: false,
      });
    });
  }

  /** Stop waiting for `req`'s final response `ms` from now (an INVITE we CANCELled whose peer never answers 487). */
  giveUpIn(req: SipMessage, ms: number = TIMEOUT): void {
    const tx = this.client.get(clientKey(req));
    if (tx) tx.deadline = this.now() + ms;
  }

  /** A response from the network: true when it matched one of our client transactions. */
  onResponse(res: SipMessage): boolean {
    const key = clientKey(res);
    const tx = this.client.get(key);
    const status = res.status ?? 0;
    if (!tx) {
      const a = this.acked.get(key);
      if (a && status >= 300) this.send(a.data, a.peer); // our ACK was lost: the response came again
      return a !== undefined;
    }
    if (status < 200) {
      tx.provisional = true;
      if (tx.invite) {
        // 17.1.1.2: a provisional stops INVITE retransmissions, and Timer B (the TU's ring timeout governs).
        tx.next = Number.POSITIVE_INFINITY;
        tx.deadline = Number.POSITIVE_INFINITY;
      }
      tx.onProvisional?.(res);
      return true;
    }
    this.client.delete(key);
    if (tx.invite && status >= 300) {
      const data = serializeSip(ackFor(tx.req, res));
      this.send(data, tx.peer);
      this.acked.set(key, { data, peer: tx.peer, expires: this.now() + TIMEOUT });
    }
    tx.resolve(res);
    return true;
  }

  private tick(): void {
    const t = this.now();
    for (const [k, e] of this.server) if (e.expires <= t) this.server.delete(k);
    for (const [k, e] of this.acked) if (e.expires <= t) this.acked.delete(k);
    for (const [k, tx] of this.client) {
      if (t >= tx.deadline) {
        this.client.delete(k);
        tx.reject(new Error('SIP request timed out (no final response)'));
      } else if (t >= tx.next) {
        this.send(tx.data, tx.peer);
        tx.interval = Math.min(tx.interval * 2, T2);
        tx.next = t + tx.interval;
      }
    }
    for (const [k, a] of this.acks) {
      if (t >= a.deadline) {
        this.acks.delete(k);
        a.onTimeout();
      } else if (t >= a.next) {
        this.send(a.data, a.peer);
        a.interval = Math.min(a.interval * 2, T2);
        a.next = t + a.interval;
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
    for (const tx of this.client.values()) tx.reject(new Error('SIP stack closed'));
    this.client.clear();
    this.acks.clear();
    this.server.clear();
    this.acked.clear();
  }
}

/** A client transaction: top Via branch + CSeq method (a CANCEL shares its INVITE's branch, 9.1). */
function clientKey(m: SipMessage): string {
  const branch = headerParams(header(m, 'via') ?? '').get('branch') ?? '';
  return `${branch}|${parseCSeq(header(m, 'cseq') ?? '')?.method ?? ''}`;
}

/** The ACK of a non-2xx final response to `invite` (17.1.1.3): same branch, the response's To (its tag). */
function ackFor(invite: SipMessage, res: SipMessage): SipMessage {
  const headers = new Map<string, string[]>();
  headers.set('via', [header(invite, 'via')!]);
  headers.set('max-forwards', ['70']);
  const route = invite.headers.get('route');
  if (route) headers.set('route', [...route]);
  headers.set('from', [header(invite, 'from')!]);
  headers.set('to', [header(res, 'to')!]);
  headers.set('call-id', [header(invite, 'call-id')!]);
  headers.set('cseq', [`${parseCSeq(header(invite, 'cseq')!)!.seq} ACK`]);
  return { method: 'ACK', uri: invite.uri!, headers, body: Buffer.alloc(0) };
}
