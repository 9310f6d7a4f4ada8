import { describe, expect, it } from 'vitest';
import { MULAW_8K } from '../../src/audio/format.js';
import { silentLogger } from '../../src/log.js';
import { createConverter } from '../../src/telephony/inband-dtmf.js';
import { WireLeg } from '../../src/telephony/media-leg.js';
import { Pacer } from '../../src/telephony/pacer.js';
import { createTwilioAdapter } from '../../src/telephony/twilio.js';

/**
 * Outbound bursts on a simulated clock (no sockets: the leg over a recording transport): with a lead that holds
 * two frames, a steady stream goes out two frames at a time, each burst between one cork and one uncork (one
 * socket write), and what the platform holds never drops under lead - one frame - one tick nor exceeds the lead
 * plus a frame.
 */
function legOver(leadMs: number) {
  const clock = { t: 0 };
  const pacer = new Pacer({ autoStart: false, now: () => clock.t });
  const adapter = createTwilioAdapter({ query: new URLSearchParams() });
  adapter.onText(JSON.stringify({ event: 'start', streamSid: 'MZ1', start: { streamSid: 'MZ1', callSid: 'CA1' } }), {
    start() {},
    audio() {},
    seq() {},
    dtmf() {},
    mark() {},
    cleared() {},
    stop() {},
    malformed() {},
    flow() {},
  });
  const bursts: number[] = [];
  let corked = false;
  let inBurst = 0;
  let sentUncorked = 0;
  const leg = new WireLeg({
    adapter,
    meta: { callId: 'CA1', customParameters: {}, inboundFormat: MULAW_8K, outboundFormat: MULAW_8K },
    transport: {
      send: (d) => {
        if (typeof d !== 'string' || !d.startsWith('{"event":"media"')) return;
        if (corked) inBurst++;
        else sentUncorked++;
      },
      bufferedAmount: 0,
      close() {},
      cork() {
        corked = true;
        inBurst = 0;
      },
      uncork() {
        corked = false;
        if (inBurst > 0) bursts.push(inBurst);
      },
    },
    pacer,
    logger: silentLogger,
    leadMs,
    maxBufferedBytes: 1 << 20,
    converter: createConverter,
  });
  leg.setHandler({ onAudio() {}, onDtmf() {}, onMark() {}, onStop() {} });
  return { clock, pacer, leg, bursts, uncorked: () => sentUncorked };
}

describe('outbound bursts', () => {
  it('a steady stream at an 80 ms lead leaves two frames per corked burst, never late, never past the lead', () => {
    const { clock, pacer, leg, bursts, uncorked } = legOver(80);
    const frame = new Uint8Array(160).fill(0x7f);
    // An echo: one frame in per 20 ms, after a 120 ms prebuffer, pumped by a 10 ms pacer.
    leg.play({ format: MULAW_8K, data: new Uint8Array(160 * 6).fill(0x7f) });
    let minHeld = Number.POSITIVE_INFINITY;
    let maxHeld = 0;
    for (let step = 0; step < 1000; step++) {
      clock.t += 10;
      if (step % 2 === 0) leg.play({ format: MULAW_8K, data: frame });
      pacer.tick();
      // ms the platform holds: playback started at t = 0 and has not run dry
      const held = leg.stats.framesOut * 20 - clock.t;
      if (held < minHeld) minHeld = held;
      if (held > maxHeld) maxHeld = held;
    }
    expect(uncorked()).toBe(0);
    // the first burst fills the lead from empty; every later one is two frames
    expect(bursts.slice(1).every((n) => n === 2)).toBe(true);
    expect(bursts.length).toBeGreaterThan(200);
    expect(minHeld).toBeGreaterThanOrEqual(80 - 20 - 10);
    expect(maxHeld).toBeLessThanOrEqual(80 + 20);
  });

  it('a lead that holds only one frame sends one frame per burst', () => {
    const { clock, pacer, leg, bursts } = legOver(20);
    leg.play({ format: MULAW_8K, data: new Uint8Array(160 * 50).fill(0x7f) });
    for (let step = 0; step < 100; step++) {
      clock.t += 10;
      pacer.tick();
    }
    expect(leg.stats.framesOut).toBe(50);
    expect(bursts.every((n) => n === 1)).toBe(true);
  });
});
