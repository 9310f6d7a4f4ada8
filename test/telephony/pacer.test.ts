import { afterEach, describe, expect, it } from 'vitest';
import { Pacer } from '../../src/telephony/pacer.js';
import { loadFixture, render, startServer, type TestServer, testAudio, WireClient } from './helpers.js';

/**
 * Pacing without timing assertions: the gateway runs on a pacer whose clock the test moves by hand, and the
 * counts of frames sent are compared with the simulated clock. No burst: frames in flight never exceed
 * lead/20 ms + 1.
 */
let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

async function manualCall(protocol: string, leadMs: number) {
  const clock = { t: 1000 };
  const pacer = new Pacer({ autoStart: false, now: () => clock.t });
  srv = await startServer({ pacer, limits: { leadMs } });
  const fx = loadFixture(protocol);
  const c = new WireClient(`${srv.url}${fx.path}`, fx.subprotocol ?? undefined);
  await c.opened;
  const p = srv.nextCall();
  for (const step of fx.start) c.send(render(step));
  const call = await p;
  return { clock, pacer, call, client: c, fx };
}

describe('shared pacer', () => {
  it.each([40, 80, 120])(
    'stays within the %d ms lead of real time, never bursts, and ends with everything sent',
    async (lead) => {
      const { clock, pacer, call, client } = await manualCall('twilio', lead);
      const frames = 100; // 2 s of mu-law
      const t0 = clock.t;
      call.leg.play({ format: call.leg.info.outboundFormat, data: testAudio(160 * frames) });
      const maxAhead = lead / 20 + 1;
      for (let step = 0; step <= 250; step++) {
        const elapsed = clock.t - t0;
        const sent = call.leg.stats.framesOut;
        const heardFrames = Math.min(frames, elapsed / 20);
        // never more than lead/20 + 1 frames ahead of the caller's ear...
        expect(sent - heardFrames).toBeLessThanOrEqual(maxAhead);
        // ...and never late: everything due by now has been sent
        expect(sent).toBeGreaterThanOrEqual(Math.min(frames, Math.floor(elapsed / 20)));
        // the leg knows what was heard: exactly the simulated elapsed time, in samples
        expect(call.leg.playedSamples).toBe(Math.min(160 * frames, Math.round(elapsed * 8)));
        clock.t += 10;
        pacer.tick();
      }
      expect(call.leg.stats.framesOut).toBe(frames);
      expect(call.idle).toBe(1);
      await client.until((r) => r.length >= frames, 'all frames at the client');
      client.close();
    },
  );

  it('clear stops within the lead: nothing more is sent, and playedSamples freezes at what was heard', async () => {
    const { clock, pacer, call, client, fx } = await manualCall('twilio', 80);
    const t0 = clock.t;
    call.leg.play({ format: call.leg.info.outboundFormat, data: testAudio(160 * 100) });
    call.leg.mark('m');
    for (let i = 0; i < 30; i++) {
      clock.t += 10;
      pacer.tick();
    }
    const heard = (clock.t - t0) * 8;
    expect(call.leg.playedSamples).toBe(heard);
    const sentAtClear = call.leg.stats.framesOut;
    // what the platform holds at the clear is at most the lead: that is all the caller can still hear
    expect(sentAtClear * 160 - heard).toBeLessThanOrEqual(80 * 8 + 160);
    call.leg.clear();
    expect(call.marks).toEqual([{ name: 'm', played: false }]);
    for (let i = 0; i < 50; i++) {
      clock.t += 10;
      pacer.tick();
    }
    expect(call.leg.stats.framesOut).toBe(sentAtClear);
    expect(call.leg.playedSamples).toBe(heard);
    expect(call.leg.pendingSamples).toBe(0);
    await client.until((r) => r.some((x) => x.text === fx.out.clear), 'clear on the wire');
    client.close();
  });

  it('Exotel sends whole 3200-byte messages, one ahead; a partial tail is padded to a whole message', async () => {
    const { clock, pacer, call, client } = await manualCall('exotel', 80);
    call.leg.play({ format: call.leg.info.outboundFormat, data: testAudio(3200 * 3 + 100) });
    expect(call.leg.stats.framesOut).toBe(1);
    for (let i = 0; i < 100; i++) {
      clock.t += 10;
      pacer.tick();
      // one 200 ms message (3200 B at 8 kHz PCM16) in flight at most, plus the one being due
      expect(call.leg.stats.framesOut).toBeLessThanOrEqual(Math.floor((i + 1) / 20) + 2);
    }
    expect(call.leg.stats.framesOut).toBe(4);
    await client.until((r) => r.length >= 4, 'four messages');
    const sizes = client.texts().map((t) => Buffer.from(JSON.parse(t).media.payload, 'base64').length);
    expect(sizes).toEqual([3200, 3200, 3200, 3200]);
    client.close();
  });

  it('one timer for all calls: the pacer runs only while legs exist', async () => {
    const pacer = new Pacer({ tickMs: 10 });
    const leg = {
      pumps: 0,
      pump() {
        this.pumps++;
      },
    };
    const other = {
      pumps: 0,
      pump() {
        this.pumps++;
      },
    };
    pacer.add(leg);
    pacer.add(other);
    expect(pacer.size).toBe(2);
    pacer.tick();
    expect([leg.pumps, other.pumps]).toEqual([1, 1]);
    pacer.remove(leg);
    pacer.remove(other);
    expect(pacer.size).toBe(0);
  });
});
