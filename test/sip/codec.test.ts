import { describe, expect, it } from 'vitest';
import { PCM_16K } from '../../src/audio/format.js';
import { authorize, DigestServer, parseDigest } from '../../src/sip/digest.js';
import { JitterBuffer } from '../../src/sip/jitter.js';
import { addrUri, header, parseSip, parseUri, SipParseError, serializeSip, tagOf } from '../../src/sip/message.js';
import { DtmfReceiver, newRtpView, readRtp, writeDtmfPayload, writeRtpHeader } from '../../src/sip/rtp.js';
import { buildSdp, negotiate, offerSdp } from '../../src/sip/sdp.js';

/** The pure pieces of src/sip: message codec, SDP offer/answer, RTP and RFC 4733, jitter buffer, digest. */
const INVITE = [
  'INVITE sip:ast_abc@10.0.0.1:5060 SIP/2.0',
  'v: SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bK1,SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK0',
  'f: "Alice" <sip:alice@10.0.0.2>;tag=aa',
  't: <sip:ast_abc@10.0.0.1>',
  'i: call-1@10.0.0.2',
  'CSeq: 7 INVITE',
  'Subject: folded',
  '  header value',
  'l: 4',
  '',
  'abcdEXTRA',
].join('\r\n');

describe('SIP message codec', () => {
  it('parses compact headers, comma-separated Via, folding, and cuts the body at Content-Length', () => {
    const m = parseSip(Buffer.from(INVITE));
    expect(m.method).toBe('INVITE');
    expect(m.uri).toBe('sip:ast_abc@10.0.0.1:5060');
    expect(m.headers.get('via')).toHaveLength(2);
    expect(tagOf(header(m, 'from'))).toBe('aa');
    expect(addrUri(header(m, 'from')!)).toBe('sip:alice@10.0.0.2');
    expect(header(m, 'subject')).toBe('folded header value');
    expect(m.body.toString()).toBe('abcd');
    const again = parseSip(serializeSip(m));
    expect(again.headers.get('via')).toEqual(m.headers.get('via'));
    expect(header(again, 'call-id')).toBe('call-1@10.0.0.2');
  });

  it('refuses malformed messages with SipParseError, never another exception', () => {
    const bad = [
      '',
      'garbage\r\n\r\n',
      'INVITE sip:x SIP/2.0\r\nVia: a\r\n\r\n',
      INVITE.replace('CSeq: 7 INVITE', 'CSeq: 7 BYE'),
      INVITE.replace('l: 4', 'l: 400'),
      INVITE.replace('CSeq: 7 INVITE', 'CSeq: x'),
      'SIP/2.0 abc OK\r\n\r\n',
      '\u0000\u0001\r\n\r\n',
      INVITE.replace('Subject', ' Subject'),
    ];
    for (const b of bad) expect(() => parseSip(Buffer.from(b)), JSON.stringify(b)).toThrow(SipParseError);
    for (let i = 0; i < 300; i++) {
      const cut = Buffer.from(INVITE).subarray(0, Math.floor(Math.random() * INVITE.length));
      try {
        parseSip(cut);
      } catch (err) {
        expect(err).toBeInstanceOf(SipParseError);
      }
    }
  });

  it('parses SIP URIs', () => {
    expect(parseUri('sip:%2B1555@[::1]:5080;transport=tcp')).toMatchObject({
      user: '+1555',
      host: '::1',
      port: 5080,
    });
    expect(parseUri('sip:+15550001@pbx.example.com')?.host).toBe('pbx.example.com');
    expect(parseUri('mailto:x')).toBeUndefined();
  });
});

const offer = (m: string, extra: string[] = []) =>
  ['v=0', 'o=- 1 1 IN IP4 10.0.0.2', 's=-', 'c=IN IP4 10.0.0.2', 't=0 0', m, ...extra, ''].join('\r\n');

describe('SDP offer/answer', () => {
  it("picks the offerer's first supported codec and its telephone-event payload type", () => {
    const r = negotiate(
      offer('m=audio 4000 RTP/AVP 3 8 0 96', ['a=rtpmap:3 GSM/8000', 'a=rtpmap:96 telephone-event/8000']),
    );
    expect(r.ok && r.offer).toMatchObject({
      address: '10.0.0.2',
      port: 4000,
      payloadType: 8,
      codecName: 'PCMA',
      dtmfPayloadType: 96,
      hold: false,
    });
    if (!r.ok) return;
    const answer = negotiate(buildSdp({ address: '10.0.0.1', port: 5000, sessionId: 1, version: 1 }, [r.offer], 96));
    expect(answer.ok && answer.offer).toMatchObject({ port: 5000, payloadType: 8, dtmfPayloadType: 96 });
  });

  it('takes G.722 (static PT 9, G722/8000 in SDP) as a 16 kHz PCM16 leg, and offers it first', () => {
    const r = negotiate(offer('m=audio 4000 RTP/AVP 9 0 101', ['a=rtpmap:9 G722/8000']));
    expect(r.ok && r.offer).toMatchObject({ payloadType: 9, codecName: 'G722', format: PCM_16K });
    const ours = negotiate(offerSdp({ address: '10.0.0.1', port: 5000, sessionId: 1, version: 1 }));
    expect(ours.ok && ours.offer).toMatchObject({ payloadType: 9, codecName: 'G722' });
    expect(offerSdp({ address: '10.0.0.1', port: 5000, sessionId: 1, version: 1 })).toMatch(
      /m=audio 5000 RTP\/AVP 9 0 8 101\r\na=rtpmap:9 G722\/8000/,
    );
    expect(offerSdp({ address: '10.0.0.1', port: 5000, sessionId: 1, version: 1 }, ['PCMA'])).toMatch(/RTP\/AVP 8 101/);
  });

  it('says no common codec, hold, and refuses what is not RTP/AVP audio', () => {
    expect(negotiate(offer('m=audio 4000 RTP/AVP 3 18'))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/no common codec/),
    });
    expect(negotiate(offer('m=audio 4000 RTP/SAVP 0')).ok).toBe(false);
    expect(negotiate(offer('m=video 4000 RTP/AVP 96')).ok).toBe(false);
    expect(negotiate('not sdp at all').ok).toBe(false);
    const held = negotiate(offer('m=audio 4000 RTP/AVP 0', ['a=sendonly']));
    expect(held.ok && held.offer.hold).toBe(true);
  });
});

describe('RTP and RFC 4733', () => {
  it('writes and reads headers, skipping CSRC, extension and padding', () => {
    const b = new Uint8Array(12 + 4 + 8 + 160 + 2);
    writeRtpHeader(b, 8, true, 65535, 0xfffffff0, 0xdeadbeef);
    b[0] = 0x80 | 0x20 | 0x10 | 1; // padding, extension, one CSRC
    b[16 + 2] = 0;
    b[16 + 3] = 1; // extension of one word
    b[b.length - 1] = 2; // two bytes of padding
    const v = newRtpView();
    expect(readRtp(b, v)).toBe(true);
    expect(v).toMatchObject({ payloadType: 8, marker: true, seq: 65535, timestamp: 0xfffffff0, ssrc: 0xdeadbeef });
    expect(v.payloadOffset).toBe(24);
    expect(v.payloadLength).toBe(160);
    expect(readRtp(new Uint8Array([0x80, 200, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), v)).toBe(false); // RTCP SR
    expect(readRtp(new Uint8Array(5), v)).toBe(false);
  });

  it('reports each event once, at its end, and a digit whose end packets were all lost when the next starts', () => {
    const got: string[] = [];
    const rx = new DtmfReceiver((d) => got.push(d));
    const p = new Uint8Array(4);
    const push = (ts: number, ev: number, end: boolean) => {
      writeDtmfPayload(p, 0, ev, end, 800);
      rx.push(ts, { event: p[0]!, end: (p[1]! & 0x80) !== 0, volume: 10, duration: 800 });
    };
    push(100, 1, false);
    push(100, 1, true);
    push(100, 1, true);
    push(100, 1, true);
    push(900, 11, false); // '#', end packets lost
    push(1700, 10, true); // '*'
    expect(got).toEqual(['1', '#', '*']);
  });
});

describe('jitter buffer', () => {
  const run = (seqs: number[], ms = 1000) => {
    const out: number[] = [];
    const jb = new JitterBuffer((f) => out.push(f[0]!), 0xff, 60, 5);
    for (const s of seqs) jb.push(s & 0xffff, new Uint8Array(160).fill(s & 0x7f), 0);
    for (let t = 0; t <= ms; t += 10) jb.pump(t);
    return { out, stats: jb.stats };
  };

  it('plays reordered packets in sequence order, across the 16-bit wrap', () => {
    const { out, stats } = run([65534, 0, 65535, 1, 2]);
    expect(out.slice(0, 5)).toEqual([65534 & 0x7f, 65535 & 0x7f, 0, 1, 2]);
    expect(stats.played).toBe(5);
  });

  it('conceals a lost frame with the previous one, then silence, and stops after the idle limit', () => {
    const { out, stats } = run([10, 11, 14]);
    expect(out.slice(0, 5)).toEqual([10, 11, 11, 0xff, 14]);
    expect(stats.concealed).toBe(2 + 5); // two lost, then the idle tail before playout stops
    expect(out).toHaveLength(3 + 2 + 5);
  });

  it('deepens by one frame per late packet, up to its limit', () => {
    const out: number[] = [];
    const jb = new JitterBuffer((f) => out.push(f[0]!), 0xff, 0, 50, 40);
    const frame = (v: number) => new Uint8Array(160).fill(v);
    jb.push(1, frame(1), 0);
    jb.pump(0); // plays 1; 2 is due at 20
    jb.pump(20); // 2 missing: concealed
    for (const late of [2, 2, 2]) jb.push(late, frame(late), 25); // late three times: +20, +20, then capped
    jb.push(3, frame(3), 25);
    jb.pump(40); // 3 was due at 40, now at 80
    expect(out).toEqual([1, 1]);
    jb.pump(80);
    expect(out).toEqual([1, 1, 3]);
    expect(jb.stats.late).toBe(3);
  });

  it('counts late and duplicate packets and resynchronises on a jump', () => {
    const out: number[] = [];
    const jb = new JitterBuffer((f) => out.push(f[0]!), 0xff, 0, 5);
    jb.push(100, new Uint8Array(160).fill(1), 0);
    jb.push(100, new Uint8Array(160).fill(1), 0);
    jb.pump(0);
    jb.push(99, new Uint8Array(160).fill(2), 0);
    jb.push(5000, new Uint8Array(160).fill(3), 0);
    jb.pump(40);
    expect(jb.stats).toMatchObject({ duplicates: 1, late: 1, resyncs: 1 });
    expect(out.slice(0, 2)).toEqual([1, 3]);
  });
});

describe('digest authentication', () => {
  const creds = { username: 'trunk', password: 's3cret' };

  it('round-trips a challenge with qop=auth and refuses a wrong password or a forged nonce', () => {
    const server = new DigestServer('voice-engine');
    const challenge = server.challenge();
    const auth = authorize(challenge, 'INVITE', 'sip:+1555@10.0.0.1', creds)!;
    expect(server.verify(auth, 'INVITE', creds)).toBe('ok');
    expect(server.verify(auth, 'INVITE', { ...creds, password: 'x' })).toBe('bad');
    expect(server.verify(auth, 'BYE', creds)).toBe('bad');
    const forged = auth.replace(/nonce="[^"]+"/, `nonce="${Date.now()}.00000000000000000000000000000000"`);
    expect(server.verify(forged, 'INVITE', creds)).toBe('bad');
    expect(server.verify('Basic abc', 'INVITE', creds)).toBe('bad');
  });

  it('says stale for an expired nonce of ours', () => {
    const server = new DigestServer('r');
    const old = server.challenge(Date.now() - 120_000);
    const auth = authorize(old, 'INVITE', 'sip:x@y', creds)!;
    expect(server.verify(auth, 'INVITE', creds)).toBe('stale');
    expect(parseDigest(server.challenge(Date.now(), true))?.stale).toBe('true');
  });
});
