import { randomBytes } from 'node:crypto';
import { header, headerParams, type SipMessage, serializeSip, tagOf } from './message.js';
import type { Peer } from './transport.js';

/**
 * The transaction layer we need (RFC 3261 section 17), on ONE shared timer (100 ms), not a timer per message:
 *
 * - server transactions: the last response to each request is kept (by top Via branch and method) for 32 s, so a
 *   retransmitted request gets the same response again and is not handled twice;
 * - a 2xx to INVITE over UDP is retransmitted (T1 doubling up to T2) until its ACK (13.3.1.4); no ACK within
 *   64*T1 reports the call as failed (the UAS then sends BYE);
 * - client transactions (our BYE, REFER, re-INVITE): the request is retransmitted over UDP until a response, and
 *   rejected after 64*T1 (Timer F).
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
  resolve(res: SipMessage): void;
  reject(err: Error): void;
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

  /** Sends a request and resolves with its final response (rejects after Timer F). */
  request(req: SipMessage, peer: Peer): Promise<SipMessage> {
    const branch = headerParams(header(req, 'via') ?? '').get('branch') ?? '';
    const data = serializeSip(req);
    this.send(data, peer);
    const t = this.now();
    return new Promise((resolve, reject) => {
      this.client.set(branch, {
        data,
        peer,
        next: peer.proto === 'udp' ? t + T1 : Number.POSITIVE_INFINITY,
        interval: T1,
        deadline: t + TIMEOUT,
        resolve,
        reject,
        invite: req.method === 'INVITE',
        provisional: false,
      });
    });
  }

  /** A response from the network: true when it matched one of our client transactions. */
  onResponse(res: SipMessage): boolean {
    const branch = headerParams(header(res, 'via') ?? '').get('branch') ?? '';
    const tx = this.client.get(branch);
    if (!tx) return false;
    if ((res.status ?? 0) < 200) {
      tx.provisional = true;
      if (tx.invite) tx.next = Number.POSITIVE_INFINITY; // 17.1.1.2: a provisional stops INVITE retransmissions
      return true;
    }
    this.client.delete(branch);
    tx.resolve(res);
    return true;
  }

  private tick(): void {
    const t = this.now();
    for (const [k, e] of this.server) if (e.expires <= t) this.server.delete(k);
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
  }
}
