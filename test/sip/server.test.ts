import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pcmFormat } from '../../src/audio/format.js';
import { silentLogger } from '../../src/log.js';
import { authorize } from '../../src/sip/digest.js';
import { header, tagOf } from '../../src/sip/message.js';
import { newRtpView, readRtp, writeDtmfPayload, writeRtpHeader } from '../../src/sip/rtp.js';
import { negotiate } from '../../src/sip/sdp.js';
import { type SipAdmission, type SipServer, startSipServer } from '../../src/sip/server.js';
import type { MediaLeg } from '../../src/telephony/leg.js';
import { Pacer } from '../../src/telephony/pacer.js';
import { assistant } from '../telephony/helpers.js';
import { TestUac } from './uac.js';

/**
 * The SIP user agent at the wire: a scripted UDP caller (test/sip/uac.ts) against startSipServer on port 0, with a
 * resolve / onCall that record what the session side sees. The real-phone test is baresip.test.ts.
 */
interface Seen {
  leg: MediaLeg;
  frames: number;
  dtmf: string[];
  stops: string[];
}

const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  for (let t = 0; t < ms && !cond(); t += 20) await new Promise((r) => setTimeout(r, 20));
  if (!cond()) throw new Error('condition not met in time');
};

describe('SIP user agent (wire)', () => {
  let server: SipServer;
  const pacer = new Pacer();
  const seen: Seen[] = [];
  let admission: SipAdmission = { kind: 'allow' };
  let releases = 0;

  beforeAll(async () => {
    server = await startSipServer({
      host: '127.0.0.1',
      port: 0,
      rtp: { min: 32000, max: 32999 },
      logger: silentLogger,
      pacer,
      leadMs: 80,
      limits: { invitesPerSecondPerIp: 20 },
      admit: async (user) => {
        if (user === 'ast_slow') await new Promise((r) => setTimeout(r, 300));
        return user.startsWith('+') ? admission : { kind: 'allow' };
      },
      resolve: async (req) => {
        if (req.pathKey === 'ast_slowres') await new Promise((r) => setTimeout(r, 300));
        return ['ast_good', 'ast_slow', 'ast_slowres'].includes(req.pathKey ?? '') || req.to === '+15550001'
          ? { ok: true, call: { tenantId: 't', assistant: assistant(), release: () => releases++ } }
          : { ok: false, code: 4003, reason: 'assistant key wrong or revoked' };
      },
      onCall: (leg) => {
        const s: Seen = { leg, frames: 0, dtmf: [], stops: [] };
        seen.push(s);
        leg.setHandler({
          onAudio: () => s.frames++,
          onDtmf: (d) => s.dtmf.push(d),
          onMark: () => {},
          onStop: (r) => s.stops.push(r),
        });
        // 600 ms of a 440 Hz tone as the "greeting".
        const pcm = new Int16Array(4800);
        for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000));
        leg.play({ format: pcmFormat(8000), data: new Uint8Array(pcm.buffer) });
      },
    });
  });

  afterAll(async () => {
    await server.close();
    pacer.stop();
  });

  async function establish(uac: TestUac, user = 'ast_good') {
    uac.invite(user, server.port);
    await uac.status(100);
    const ok = await uac.status(200);
    const toTag = tagOf(header(ok, 'to'))!;
    uac.inDialog('ACK', user, server.port, toTag, 1);
    const answer = negotiate(ok.body.toString());
    if (!answer.ok) throw new Error(answer.reason);
    return { ok, toTag, answer: answer.offer };
  }

  it('answers OPTIONS with 200 and the methods it allows', async () => {
    const uac = await TestUac.open();
    uac.send(
      [
        `OPTIONS sip:ping@127.0.0.1:${server.port} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${uac.sipPort};branch=z9hG4bKopt1`,
        'From: <sip:a@127.0.0.1>;tag=1',
        'To: <sip:ping@127.0.0.1>',
        'Call-ID: opt1',
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      server.port,
    );
    const res = await uac.status(200, 'OPTIONS');
    expect(header(res, 'allow')).toContain('INVITE');
    expect(header(res, 'allow')).toContain('REFER');
    uac.close();
  });

  it('takes a call: 100/180/200 with a PCMU + telephone-event answer, paced 20 ms RTP out, RTP and RFC 4733 in, BYE from the caller', async () => {
    const uac = await TestUac.open();
    const before = seen.length;
    const { answer, toTag } = await establish(uac);
    expect(answer.codecName).toBe('PCMU');
    expect(answer.dtmfPayloadType).toBe(101);
    await until(() => seen.length > before);
    const s = seen[seen.length - 1]!;
    expect(s.leg.info.protocol).toBe('sip');
    // The greeting arrives as consecutive 20 ms PCMU packets from one SSRC.
    await until(() => uac.rtpIn.length >= 30);
    const v = newRtpView();
    const pkts = uac.rtpIn.slice(0, 30).map((p) => {
      expect(readRtp(p.data, v)).toBe(true);
      return { ...v };
    });
    for (let i = 1; i < pkts.length; i++) {
      expect(pkts[i]!.seq).toBe((pkts[i - 1]!.seq + 1) & 0xffff);
      expect(pkts[i]!.timestamp - pkts[i - 1]!.timestamp).toBe(160);
      expect(pkts[i]!.ssrc).toBe(pkts[0]!.ssrc);
      expect(pkts[i]!.payloadType).toBe(0);
      expect(pkts[i]!.payloadLength).toBe(160);
    }
    expect(pkts.some((p) => p.payloadType === 0)).toBe(true);
    expect(uac.rtpIn[0]!.from).toBe(`127.0.0.1:${answer.port}`);

    // Inbound: 20 packets, two of them swapped (reordering), one RFC 4733 digit with its three end packets.
    // A fresh buffer per datagram: dgram.send reads the bytes after this tick.
    const sendAudio = (seq: number) => {
      const pkt = Buffer.alloc(172);
      writeRtpHeader(pkt, 0, false, seq, seq * 160, 0x1234);
      pkt.fill(0xff, 12);
      uac.rtp.send(pkt, answer.port, '127.0.0.1');
    };
    for (const seq of [1, 2, 3, 5, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]) sendAudio(seq);
    for (const [end, dur] of [
      [false, 160],
      [false, 320],
      [true, 800],
      [true, 800],
      [true, 800],
    ] as const) {
      const ev = Buffer.alloc(16);
      writeRtpHeader(ev, 101, dur === 160, 21, 21 * 160, 0x1234);
      writeDtmfPayload(ev, 12, 5, end, dur);
      uac.rtp.send(ev, answer.port, '127.0.0.1');
    }
    await until(() => s.dtmf.length === 1 && s.frames >= 20);
    expect(s.dtmf).toEqual(['5']);

    // RTP from an address that is not the negotiated one is ignored.
    const stranger = dgram.createSocket('udp4');
    await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', () => r()));
    const ev = Buffer.alloc(16);
    writeDtmfPayload(ev, 12, 9, true, 800);
    writeRtpHeader(ev, 101, true, 40, 40 * 160, 0x9999);
    for (let i = 0; i < 3; i++) stranger.send(ev, answer.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 200));
    expect(s.dtmf).toEqual(['5']);
    stranger.close();

    // The caller hangs up: 200, the session hears the end once.
    uac.inDialog('BYE', 'ast_good', server.port, toTag, 2);
    await uac.status(200, 'BYE');
    await until(() => s.stops.length === 1);
    expect(s.stops).toEqual(['caller hangup']);
    expect(server.activeCalls).toBe(0);
    uac.close();
  });

  it('hangs up with BYE and transfers with REFER (the leg behind the one call-control interface)', async () => {
    const a = await TestUac.open();
    const before = seen.length;
    await establish(a);
    await until(() => seen.length > before);
    const sa = seen[seen.length - 1]!;
    void sa.leg.hangup('done');
    const bye = await a.wait((m) => m.method === 'BYE');
    expect(header(bye, 'call-id')).toBe(a.callId);
    a.answer(bye, 200, 'OK');
    await until(() => sa.stops.length === 1);
    a.close();

    const b = await TestUac.open();
    await establish(b);
    await until(() => seen.length > before + 1);
    const sb = seen[seen.length - 1]!;
    const transferred = sb.leg.transfer('+15550009999', 'cold');
    const refer = await b.wait((m) => m.method === 'REFER');
    expect(header(refer, 'refer-to')).toBe('<sip:+15550009999@127.0.0.1>');
    b.answer(refer, 202, 'Accepted');
    await transferred;
    const bye2 = await b.wait((m) => m.method === 'BYE');
    b.answer(bye2, 200, 'OK');
    await until(() => sb.stops.length === 1);
    b.close();

    // A refused REFER leaves the call up and rejects the transfer.
    const c = await TestUac.open();
    await establish(c);
    await until(() => seen.length > before + 2);
    const sc = seen[seen.length - 1]!;
    const refused = sc.leg.transfer('sip:desk@pbx.example', 'cold');
    c.answer(await c.wait((m) => m.method === 'REFER'), 603, 'Declined');
    await expect(refused).rejects.toThrow(/603/);
    expect(sc.leg.closed).toBe(false);
    await expect(sc.leg.transfer('not a target', 'cold')).rejects.toThrow(/not a number or SIP URI/);
    void sc.leg.hangup('bye');
    c.answer(await c.wait((m) => m.method === 'BYE'), 200, 'OK');
    c.close();
  });

  it('answers a hold re-INVITE (a=sendonly) with a=recvonly and stops its RTP; a resume brings it back', async () => {
    const uac = await TestUac.open();
    const { toTag } = await establish(uac);
    await until(() => uac.rtpIn.length >= 5);
    const okTo = (cseq: string) => uac.wait((m) => m.status === 200 && header(m, 'cseq') === cseq);
    uac.inDialog('INVITE', 'ast_good', server.port, toTag, 2, uac.sdp('0 101', 'a=sendonly'));
    const ok = await okTo('2 INVITE');
    const held = negotiate(ok.body.toString());
    expect(held.ok && held.offer.direction).toBe('recvonly');
    expect(tagOf(header(ok, 'to'))).toBe(toTag);
    uac.inDialog('ACK', 'ast_good', server.port, toTag, 2);
    // On hold: no RTP (a packet in flight when the answer left may still land).
    await new Promise((r) => setTimeout(r, 100));
    const during = uac.rtpIn.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(uac.rtpIn.length - during).toBe(0);
    // Resume: sendrecv again, and the stream goes on.
    uac.inDialog('INVITE', 'ast_good', server.port, toTag, 3, uac.sdp('0 101', 'a=sendrecv'));
    const resumed = negotiate((await okTo('3 INVITE')).body.toString());
    expect(resumed.ok && resumed.offer.direction).toBe('sendrecv');
    uac.inDialog('ACK', 'ast_good', server.port, toTag, 3);
    await until(() => uac.rtpIn.length > during + 10);
    uac.inDialog('BYE', 'ast_good', server.port, toTag, 4);
    await uac.status(200, 'BYE');
    uac.close();
  });

  it('refuses what it cannot take: 488 without a common codec, 403 for a wrong key, 481 outside a dialog, 405', async () => {
    const uac = await TestUac.open();
    uac.invite('ast_good', server.port, { sdp: uac.sdp('3 18') });
    const r488 = await uac.status(488);
    expect(header(r488, 'warning')).toMatch(/no common codec/);
    uac.invite('ast_wrong', server.port, { callId: 'other-1' });
    await uac.status(403);
    uac.inDialog('BYE', 'ast_good', server.port, 'nope', 5);
    await uac.status(481, 'BYE');
    uac.send(
      [
        `SUBSCRIBE sip:x@127.0.0.1:${server.port} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${uac.sipPort};branch=z9hG4bKsub1`,
        'From: <sip:a@127.0.0.1>;tag=1',
        'To: <sip:x@127.0.0.1>',
        'Call-ID: sub1',
        'CSeq: 1 SUBSCRIBE',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      server.port,
    );
    await uac.status(405, 'SUBSCRIBE');
    uac.close();
  });

  it('CANCEL before the answer: 200 to the CANCEL, 487 to the INVITE, no call', async () => {
    const uac = await TestUac.open();
    const calls = seen.length;
    const branch = uac.invite('ast_slow', server.port);
    await uac.status(100);
    uac.cancel('ast_slow', server.port, branch);
    await uac.status(200, 'CANCEL');
    await uac.status(487);
    await new Promise((r) => setTimeout(r, 500));
    expect(seen.length).toBe(calls);
    expect(uac.received.some((m) => m.status === 200 && header(m, 'cseq')?.endsWith('INVITE'))).toBe(false);
    uac.close();
  });

  it('CANCEL while the call record is being created: 487, the record released (closed), no call', async () => {
    const uac = await TestUac.open();
    const calls = seen.length;
    const released = releases;
    const active = server.activeCalls;
    const branch = uac.invite('ast_slowres', server.port);
    await uac.status(100);
    await new Promise((r) => setTimeout(r, 100)); // resolve() is under way
    uac.cancel('ast_slowres', server.port, branch);
    await uac.status(200, 'CANCEL');
    await uac.status(487);
    await until(() => releases === released + 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.length).toBe(calls);
    expect(releases).toBe(released + 1);
    expect(server.activeCalls).toBe(active);
    expect(uac.received.some((m) => m.status === 200 && header(m, 'cseq')?.endsWith('INVITE'))).toBe(false);
    uac.close();
  });

  it('challenges a routed number with digest and takes the call with the right credentials only', async () => {
    admission = { kind: 'digest', credentials: { username: 'trunk', password: 's3cret' } };
    const uac = await TestUac.open();
    uac.invite('+15550001', server.port);
    const challenge = await uac.status(401);
    const www = header(challenge, 'www-authenticate')!;
    expect(www).toMatch(/^Digest realm="voice-engine"/);
    const uri = `sip:+15550001@127.0.0.1:${server.port}`;
    uac.invite('+15550001', server.port, {
      cseq: 2,
      auth: authorize(www, 'INVITE', uri, { username: 'trunk', password: 'wrong' }),
    });
    await uac.status(401);
    uac.invite('+15550001', server.port, {
      cseq: 3,
      auth: authorize(www, 'INVITE', uri, { username: 'trunk', password: 's3cret' }),
    });
    const ok = await uac.status(200);
    const toTag = tagOf(header(ok, 'to'))!;
    uac.inDialog('ACK', '+15550001', server.port, toTag, 3);
    uac.inDialog('BYE', '+15550001', server.port, toTag, 4);
    await uac.status(200, 'BYE');
    admission = { kind: 'reject', status: 403, reason: 'Forbidden' };
    uac.invite('+15550001', server.port, { callId: 'rejected-1' });
    await uac.status(403);
    uac.close();
  });

  it('survives malformed SIP (UDP and TCP) and an INVITE flood; a call in progress goes on', async () => {
    const uac = await TestUac.open();
    const { answer, toTag } = await establish(uac);
    const malformedBefore = server.stats().malformed;
    const junk = dgram.createSocket('udp4');
    for (const text of [
      'garbage',
      'INVITE sip:x SIP/2.0\r\n\r\n',
      '\u0000'.repeat(2000),
      'SIP/2.0 200\r\nVia: x\r\n\r\n',
    ]) {
      junk.send(Buffer.from(text), server.port, '127.0.0.1');
    }
    const tcp = net.connect(server.port, '127.0.0.1');
    await new Promise<void>((r) => tcp.once('connect', () => r()));
    tcp.write('NOT SIP AT ALL\r\n\r\n');
    await new Promise<void>((r) => tcp.once('close', () => r()));
    await until(() => server.stats().malformed >= malformedBefore + 3);
    junk.close();

    // A flood of INVITEs from one address: refused with 503 past the per-IP rate, answered, no crash.
    const flood = await TestUac.open();
    for (let i = 0; i < 60; i++) flood.invite('ast_wrong', server.port, { callId: `flood-${i}` });
    await until(() => flood.received.filter((m) => (m.status ?? 0) >= 400).length >= 60);
    const statuses = flood.received.filter((m) => (m.status ?? 0) >= 400).map((m) => m.status);
    expect(statuses).toContain(503);
    expect(statuses).toContain(403);
    flood.close();

    // OPTIONS over TCP still answered, and the call in progress still gets its audio.
    const opt = net.connect(server.port, '127.0.0.1');
    const body = [
      `OPTIONS sip:ping@127.0.0.1:${server.port} SIP/2.0`,
      'Via: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKtcp1',
      'From: <sip:a@127.0.0.1>;tag=1',
      'To: <sip:ping@127.0.0.1>',
      'Call-ID: tcp1',
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    opt.write(body);
    const reply = await new Promise<string>((r) => opt.once('data', (d: Buffer) => r(d.toString())));
    expect(reply).toMatch(/^SIP\/2\.0 200 OK/);
    opt.destroy();
    const n = uac.rtpIn.length;
    await until(() => uac.rtpIn.length > n + 10);
    expect(uac.rtpIn.at(-1)!.from).toBe(`127.0.0.1:${answer.port}`);
    uac.inDialog('BYE', 'ast_good', server.port, toTag, 2);
    await uac.status(200, 'BYE');
    uac.close();
  });
});
