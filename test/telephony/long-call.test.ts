import { describe, expect, it } from 'vitest';
import { MULAW_8K } from '../../src/audio/format.js';
import { silentLogger } from '../../src/log.js';
import { createConverter } from '../../src/telephony/inband-dtmf.js';
import { WireLeg } from '../../src/telephony/media-leg.js';
import { Pacer } from '../../src/telephony/pacer.js';
import { createTwilioAdapter } from '../../src/telephony/twilio.js';

/**
 * A 10-minute call on a simulated clock (no sockets: the leg over a counting transport): 30,000 frames in and out,
 * a mark every second, a barge-in every 30 s. Nothing accumulates: every mark resolves, the queue drains, the
 * pacer forgets the leg at the end.
 */
describe('long call', () => {
  it('10 simulated minutes leave nothing queued or pending', () => {
    const clock = { t: 0 };
    const pacer = new Pacer({ autoStart: false, now: () => clock.t });
    const adapter = createTwilioAdapter({ query: new URLSearchParams() });
    let sent = 0;
    let maxAhead = 0;
    const echoes: { at: number; name: string }[] = [];
    const deliver = () => {
      while (echoes.length > 0 && echoes[0]!.at <= clock.t) leg.receiveMark(echoes.shift()!.name);
    };
    adapter.onText(
      JSON.stringify({
        event: 'start',
        streamSid: 'MZ1',
        start: { streamSid: 'MZ1', callSid: 'CA1', customParameters: {} },
      }),
      { start() {}, audio() {}, seq() {}, dtmf() {}, mark() {}, cleared() {}, stop() {}, malformed() {}, flow() {} },
    );
    const leg = new WireLeg({
      adapter,
      meta: { callId: 'CA1', customParameters: {}, inboundFormat: MULAW_8K, outboundFormat: MULAW_8K },
      transport: {
        send: (d) => {
          if (typeof d !== 'string') return;
          if (d.startsWith('{"event":"media"')) sent++;
          // Twilio echoes a mark once the audio before it has played: about the lead later.
          else if (d.startsWith('{"event":"mark"')) echoes.push({ at: clock.t + 100, name: JSON.parse(d).mark.name });
        },
        bufferedAmount: 0,
        close() {},
      },
      pacer,
      logger: silentLogger,
      leadMs: 80,
      maxBufferedBytes: 1 << 20,
      converter: createConverter,
    });
    const marks: boolean[] = [];
    leg.setHandler({ onAudio() {}, onDtmf() {}, onMark: (_n, played) => marks.push(played), onStop() {} });
    const frame = new Uint8Array(160).fill(0x7f);
    let created = 0;
    for (let i = 0; i < 30_000; i++) {
      leg.play({ format: MULAW_8K, data: frame });
      if (i % 50 === 49) {
        leg.mark(`m${i}`);
        created++;
      }
      if (i % 1500 === 1499) leg.clear();
      clock.t += 20;
      pacer.tick();
      deliver();
      const ahead = leg.pendingSamples / 8;
      if (ahead > maxAhead) maxAhead = ahead;
    }
    for (let i = 0; i < 20; i++) {
      clock.t += 20;
      pacer.tick();
      deliver();
    }
    expect(maxAhead).toBeLessThanOrEqual(100); // ms: the lead plus the frame being played
    expect(leg.pendingSamples).toBe(0);
    expect(sent).toBe(leg.stats.framesOut);
    expect(leg.stats.dropped).toBe(0);
    // every mark resolved exactly once: played when echoed, not played when a barge-in cut it
    expect(marks.length).toBe(created);
    expect(marks.filter((p) => p).length).toBeGreaterThan(created * 0.9);
    // heard = all that was sent, minus what was still in flight (at most the lead, 640 samples) at each of the 20
    // barge-ins
    expect(leg.playedSamples).toBeLessThanOrEqual(leg.stats.framesOut * 160);
    expect(leg.playedSamples).toBeGreaterThanOrEqual(leg.stats.framesOut * 160 - 20 * 640);
    leg.end('done');
    expect(pacer.size).toBe(0);
  });
});
