import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { header, parseSip, type SipMessage } from '../../src/sip/message.js';

/**
 * A minimal scripted SIP caller over UDP for wire tests (the real-phone tests use baresip): sends raw requests,
 * collects every response and request it receives, and an RTP socket that records packets.
 */
export class TestUac {
  readonly sip = dgram.createSocket('udp4');
  readonly rtp = dgram.createSocket('udp4');
  readonly received: SipMessage[] = [];
  readonly rtpIn: { data: Buffer; from: string }[] = [];
  readonly callId = `${randomBytes(6).toString('hex')}@test`;
  readonly fromTag = randomBytes(4).toString('hex');
  private waiters: { pred: (m: SipMessage) => boolean; resolve: (m: SipMessage) => void }[] = [];

  static async open(): Promise<TestUac> {
    const u = new TestUac();
    await new Promise<void>((r) => u.sip.bind(0, '127.0.0.1', () => r()));
    await new Promise<void>((r) => u.rtp.bind(0, '127.0.0.1', () => r()));
    u.sip.on('message', (buf) => {
      let m: SipMessage;
      try {
        m = parseSip(buf);
      } catch {
        return;
      }
      u.received.push(m);
      for (const w of [...u.waiters]) {
        if (w.pred(m)) {
          u.waiters.splice(u.waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
    u.rtp.on('message', (data, rinfo) => u.rtpIn.push({ data, from: `${rinfo.address}:${rinfo.port}` }));
    return u;
  }

  get sipPort(): number {
    return this.sip.address().port;
  }

  get rtpPort(): number {
    return this.rtp.address().port;
  }

  send(text: string, port: number): void {
    this.sip.send(Buffer.from(text), port, '127.0.0.1');
  }

  /** The next message (already received or to come) matching `pred`. */
  wait(pred: (m: SipMessage) => boolean, timeoutMs = 5000): Promise<SipMessage> {
    const have = this.received.find(pred);
    if (have) {
      this.received.splice(this.received.indexOf(have), 1);
      return Promise.resolve(have);
    }
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          reject(new Error('timed out waiting for a SIP message'));
        }
      }, timeoutMs).unref();
    });
  }

  status(code: number, method = 'INVITE'): Promise<SipMessage> {
    return this.wait((m) => m.status === code && (header(m, 'cseq') ?? '').endsWith(method));
  }

  sdp(codecs = '0 101', extra = ''): string {
    return [
      'v=0',
      'o=- 1 1 IN IP4 127.0.0.1',
      's=test',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${this.rtpPort} RTP/AVP ${codecs}`,
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:9 G722/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=ptime:20',
      extra,
      '',
    ]
      .filter((l, i, a) => l !== '' || i === a.length - 1)
      .join('\r\n');
  }

  invite(
    user: string,
    port: number,
    opts: { sdp?: string; branch?: string; auth?: string; cseq?: number; callId?: string } = {},
  ): string {
    const body = opts.sdp ?? this.sdp();
    const branch = opts.branch ?? `z9hG4bK${randomBytes(6).toString('hex')}`;
    const text = [
      `INVITE sip:${user}@127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.sipPort};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:caller@127.0.0.1>;tag=${this.fromTag}`,
      `To: <sip:${user}@127.0.0.1>`,
      `Call-ID: ${opts.callId ?? this.callId}`,
      `CSeq: ${opts.cseq ?? 1} INVITE`,
      `Contact: <sip:caller@127.0.0.1:${this.sipPort}>`,
      ...(opts.auth ? [`Authorization: ${opts.auth}`] : []),
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
    this.send(text, port);
    return branch;
  }

  /** CANCEL of the INVITE sent with `branch` (RFC 3261 9.1: same branch, Call-ID, From, To, CSeq number). */
  cancel(user: string, port: number, branch: string): void {
    const text = [
      `CANCEL sip:${user}@127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.sipPort};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:caller@127.0.0.1>;tag=${this.fromTag}`,
      `To: <sip:${user}@127.0.0.1>`,
      `Call-ID: ${this.callId}`,
      'CSeq: 1 CANCEL',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    this.send(text, port);
  }

  /** An in-dialog request (ACK, BYE, re-INVITE) after a 200 carrying the to-tag. */
  inDialog(method: string, user: string, port: number, toTag: string, cseq: number, body = ''): void {
    const text = [
      `${method} sip:${user}@127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.sipPort};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
      'Max-Forwards: 70',
      `From: <sip:caller@127.0.0.1>;tag=${this.fromTag}`,
      `To: <sip:${user}@127.0.0.1>;tag=${toTag}`,
      `Call-ID: ${this.callId}`,
      `CSeq: ${cseq} ${method}`,
      ...(body ? ['Content-Type: application/sdp'] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n');
    this.send(text, port);
  }

  /** Answers a request the engine sent us (BYE, REFER) with `status`. */
  answer(req: SipMessage, status: number, reason: string): void {
    const lines = [`SIP/2.0 ${status} ${reason}`];
    for (const v of req.headers.get('via') ?? []) lines.push(`Via: ${v}`);
    lines.push(`From: ${header(req, 'from')}`, `To: ${header(req, 'to')}`, `Call-ID: ${header(req, 'call-id')}`);
    lines.push(`CSeq: ${header(req, 'cseq')}`, 'Content-Length: 0', '', '');
    const via = header(req, 'via') ?? '';
    const m = /SIP\/2\.0\/UDP ([^:;]+):(\d+)/.exec(via);
    this.sip.send(Buffer.from(lines.join('\r\n')), Number(m?.[2]), m?.[1] ?? '127.0.0.1');
  }

  close(): void {
    this.sip.close();
    this.rtp.close();
  }
}
