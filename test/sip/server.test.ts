import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pcmFormat } from '../../src/audio/format.js';
import { silentLogger } from '../../src/log.js';
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
  const admission: SipAdmission = { kind: 'allow' };
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
      admit: async () => admission,
      resolve: async (req) =>
        req.pathKey === 'ast_good' || req.to === '+15550001'
          ? { ok: true, call: { tenantId: 't', assistant: assistant(), release: () => releases++ } }
          : { ok: false, code: 4003, reason: 'assistant key wrong or revoked' },
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
});
