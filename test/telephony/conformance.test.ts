import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOLS } from '../../src/telephony/protocols.js';
import {
  loadFixture,
  type Received,
  type RecordedCall,
  render,
  startServer,
  type TestServer,
  testAudio,
  WireClient,
  type WireFixture,
} from './helpers.js';

/**
 * One conformance suite that every adapter passes (STYLE.md 11), driven by the wire transcripts in
 * fixtures/wire/<protocol>.json (built from the PROTOCOLS.md examples): start -> resolve -> MediaLeg info; inbound
 * audio re-chunked to 20 ms frames byte for byte; DTMF; outbound audio framed and encoded exactly as the protocol
 * fixes it; a mark on the wire only after the audio before it; mark echo -> onMark(played); clear -> the
 * protocol's clear message and pending marks resolved played=false once (late echoes ignored); stop / close ->
 * onStop once.
 */
let srv: TestServer;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv.close();
});

async function open(fx: WireFixture): Promise<{ client: WireClient; call: RecordedCall; seq: { n: number } }> {
  const client = new WireClient(`${srv.url}${fx.path}`, fx.subprotocol ?? undefined);
  await client.opened;
  if (fx.subprotocol) expect(client.ws.protocol).toBe(fx.subprotocol);
  const callP = srv.nextCall();
  const seq = { n: 1 };
  for (const step of fx.start) client.send(render(step, { seq: seq.n++ }));
  const call = await callP;
  return { client, call, seq };
}

/** Outbound audio frames decoded from what the engine sent, in order, and the index of each control message. */
function outbound(fx: WireFixture, received: Received[]): { frames: Buffer[]; log: string[] } {
  const frames: Buffer[] = [];
  const log: string[] = [];
  const [pre, post] = fx.out.audio === '$BINARY' ? ['', ''] : fx.out.audio.split('$PAYLOAD');
  for (const r of received) {
    if (r.binary) {
      frames.push(r.binary);
      log.push('audio');
    } else if (
      r.text !== undefined &&
      fx.out.audio !== '$BINARY' &&
      r.text.startsWith(pre!) &&
      r.text.endsWith(post!)
    ) {
      frames.push(Buffer.from(r.text.slice(pre!.length, r.text.length - post!.length), 'base64'));
      log.push('audio');
    } else {
      log.push(r.text!);
    }
  }
  return { frames, log };
}

for (const protocol of Object.keys(PROTOCOLS)) {
  const fx = loadFixture(protocol);

  describe(`conformance: ${protocol}`, () => {
    it('start resolves the assistant and describes the call', async () => {
      const { client, call } = await open(fx);
      const req = srv.resolves[srv.resolves.length - 1]!;
      expect(req.protocol).toBe(protocol);
      for (const [k, v] of Object.entries(fx.expectResolve)) expect(req[k as keyof typeof req]).toBe(v);
      for (const [k, v] of Object.entries(fx.expectInfo))
        expect(call.leg.info[k as keyof typeof call.leg.info]).toEqual(v);
      expect(call.leg.info.protocol).toBe(protocol);
      const caps = PROTOCOLS[protocol]!({ query: new URLSearchParams() });
      expect(caps.marksOnClear === 'echoed').toBe(fx.out.echoesPendingMarksOnClear);
      expect(call.leg.info.marks).toBe(fx.out.mark !== null);
      if (fx.expectFirst) {
        await client.until((r) => r.length > 0, 'first message');
        expect(client.received[0]!.text).toBe(fx.expectFirst);
      }
      client.close();
      await client.closed;
    });

    it('inbound audio reaches the session as 20 ms frames, byte for byte', async () => {
      const { client, call, seq } = await open(fx);
      const sent = testAudio(fx.inFrameBytes * 3, 5);
      for (let i = 0; i < 3; i++) {
        const payload = sent.subarray(i * fx.inFrameBytes, (i + 1) * fx.inFrameBytes);
        client.send(render(fx.media, { seq: seq.n++, chunk: i + 1, payload }));
      }
      const in20 = call.leg.info.inboundFormat;
      const frameBytes = (in20.sampleRate / 50) * (in20.encoding === 'pcm16' ? 2 : 1);
      const want = sent.length / frameBytes;
      await expect.poll(() => call.audio.length).toBe(want);
      expect(Buffer.concat(call.audio)).toEqual(Buffer.from(sent));
      expect(call.audio.every((a) => a.length === frameBytes)).toBe(true);
      expect(call.leg.stats.framesIn).toBe(want);
      expect(call.leg.stats.malformed).toBe(0);
      client.close();
      await client.closed;
    });

    it('DTMF arrives as a protocol event', async () => {
      const { client, call, seq } = await open(fx);
      client.send(render(fx.dtmf, { seq: seq.n++ }));
      await expect.poll(() => call.dtmf.length).toBe(1);
      expect(call.dtmf[0]).toEqual({ source: 'protocol', ...fx.expectDtmf });
      client.close();
      await client.closed;
    });

    it('outbound audio is framed and encoded exactly; the mark follows the audio; its echo resolves it', async () => {
      const { client, call, seq } = await open(fx);
      const fmt = call.leg.info.outboundFormat;
      const played = testAudio(fx.out.frameBytes * 3, 9);
      call.leg.play({ format: fmt, data: played });
      call.leg.mark('utt-1');
      await client.until((r) => outbound(fx, r).frames.length >= 3, 'three audio frames');
      const { frames, log } = outbound(fx, client.received);
      expect(frames.length).toBe(3);
      expect(frames.every((f) => f.length === fx.out.frameBytes)).toBe(true);
      expect(Buffer.concat(frames)).toEqual(Buffer.from(played));
      if (fx.out.audio !== '$BINARY') {
        const texts = client.texts().filter((t) => !t.includes('"ready"'));
        expect(texts[0]).toBe(render({ text: fx.out.audio }, { payload: played.subarray(0, fx.out.frameBytes) }));
      }
      if (fx.out.mark !== null) {
        const markMsg = render({ text: fx.out.mark }, { name: 'utt-1' }) as string;
        await client.until((r) => r.some((x) => x.text === markMsg), 'mark');
        const at = client.received.findIndex((x) => x.text === markMsg);
        // every audio frame before the mark was sent before it
        expect(outbound(fx, client.received.slice(0, at)).frames.length).toBe(3);
        expect(log.filter((l) => l !== 'audio' && !l.includes('"ready"')).length).toBeLessThanOrEqual(1);
        expect(call.marks).toEqual([]);
        client.send(render(fx.markEcho!, { seq: seq.n++, name: 'utt-1' }));
      }
      // marks resolve played=true: by the echo, or (no marks on this wire) by the pacing clock
      await expect.poll(() => call.marks, { timeout: 5000 }).toEqual([{ name: 'utt-1', played: true }]);
      expect(call.leg.playedSamples).toBe(played.length / (fmt.encoding === 'pcm16' ? 2 : 1));
      expect(call.leg.stats.framesOut).toBe(3);
      client.close();
      await client.closed;
    });

    it('clear sends the protocol clear and resolves pending marks played=false exactly once', async () => {
      const { client, call, seq } = await open(fx);
      const fmt = call.leg.info.outboundFormat;
      // 40 frames: far more than the pacing lead, so most of it is still queued when we clear.
      call.leg.play({ format: fmt, data: testAudio(fx.out.frameBytes * 40, 3) });
      call.leg.mark('utt-2');
      await client.until((r) => outbound(fx, r).frames.length >= 1, 'first frame');
      call.leg.clear();
      await client.until((r) => r.some((x) => x.text === fx.out.clear), 'clear');
      expect(call.marks).toEqual([{ name: 'utt-2', played: false }]);
      const sentBefore = outbound(fx, client.received).frames.length;
      expect(sentBefore).toBeLessThan(40);
      expect(call.leg.pendingSamples).toBe(0);
      // The platform's reaction to clear, as the protocol specifies it.
      if (fx.out.clearReply) client.send(render(fx.out.clearReply, { seq: seq.n++, pending: 'utt-2' }));
      if (fx.out.echoesPendingMarksOnClear && fx.markEcho)
        client.send(render(fx.markEcho, { seq: seq.n++, name: 'utt-2' }));
      // Nothing more is sent after the clear, and the late echo changes nothing.
      call.leg.mark('after');
      client.send(render(fx.dtmf, { seq: seq.n++ }));
      await expect.poll(() => call.dtmf.length).toBe(1);
      expect(call.marks.filter((m) => m.name === 'utt-2')).toEqual([{ name: 'utt-2', played: false }]);
      expect(outbound(fx, client.received).frames.length).toBe(sentBefore);
      client.close();
      await client.closed;
    });

    it('stop (or the socket closing) ends the call once', async () => {
      const { client, call, seq } = await open(fx);
      if (fx.stop) client.send(render(fx.stop, { seq: seq.n++ }));
      else client.close();
      await client.closed;
      await expect.poll(() => call.stops.length).toBe(1);
      expect(call.leg.closed).toBe(true);
      // Idempotent: a hangup after the end is a no-op, and onStop stays at one.
      await call.leg.hangup('late');
      expect(call.stops.length).toBe(1);
    });
  });
}
