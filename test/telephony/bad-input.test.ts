import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assistant,
  eventually,
  loadFixture,
  render,
  startServer,
  type TestServer,
  testAudio,
  WireClient,
} from './helpers.js';

/**
 * Bad input on any endpoint is counted and logged once, then skipped or answered with a clean close code, and
 * never disturbs other calls: every case runs beside a good Twilio call in echo mode that must keep echoing.
 */
const twilio = loadFixture('twilio');
const native = loadFixture('native');
let srv: TestServer;
let good: WireClient;
let goodSeq = 2;
let keepGoodAlive: NodeJS.Timeout;

beforeAll(async () => {
  srv = await startServer({
    limits: {
      maxMessageBytes: 8192,
      maxMessagesPerSecond: 100,
      maxMalformed: 5,
      // Well above a stall of this process beside the full suite on 2 cores (the good call's 50 ms keep-alive
      // must never look idle: at 400 ms one stall closed it and every later test here waited on it).
      idleTimeoutMs: 3000,
      maxBufferedBytes: 64 * 1024,
    },
    resolve: async (req) => ({
      ok: true,
      call: { tenantId: 't', assistant: assistant({ mode: req.pathKey === 'echo' ? 'echo' : 'agent' }) },
    }),
  });
  good = new WireClient(`${srv.url}/media/twilio/echo`);
  await good.opened;
  for (const step of twilio.start) good.send(render(step));
  // A real call streams all the time: the good call keeps sending, so only the silent test peer goes idle.
  keepGoodAlive = setInterval(() => good.send(render(twilio.media, { seq: goodSeq++, payload: testAudio(160) })), 50);
});
afterAll(async () => {
  clearInterval(keepGoodAlive);
  good.close();
  await srv.close();
});

/** One 20 ms frame through the good call, echoed back. */
async function goodCallStillWorks(): Promise<void> {
  const before = good.received.length;
  good.send(render(twilio.media, { seq: goodSeq++, payload: testAudio(160, goodSeq) }));
  await good.until((r) => r.length > before + 1, 'echo on the good call');
  expect(good.closeCode).toBeUndefined();
}

async function openTwilio(): Promise<{ c: WireClient; call: Awaited<ReturnType<TestServer['nextCall']>> }> {
  const c = new WireClient(`${srv.url}/media/twilio`);
  await c.opened;
  const p = srv.nextCall();
  for (const step of twilio.start) c.send(render(step));
  return { c, call: await p };
}

describe('bad input beside a good call', () => {
  it.each([
    ['invalid JSON', '{"event":"media",'],
    ['unknown event', '{"event":"bogus","streamSid":"MZ"}'],
    ['wrong base64', '{"event":"media","streamSid":"MZ","media":{"payload":"@@not base64!!"}}'],
    ['a typo (playload)', '{"event":"media","streamSid":"MZ","media":{"playload":"AAAA"}}'],
    ['binary where text is expected', Buffer.from([1, 2, 3, 4])],
  ])('%s is counted and skipped; past the tolerated count the call closes 4008', async (_name, bad) => {
    const { c, call } = await openTwilio();
    c.send(bad);
    c.send(render(twilio.media, { seq: 3, payload: testAudio(160) }));
    await expect.poll(() => call.audio.length).toBe(1); // skipped, the call goes on
    expect(call.leg.stats.malformed).toBe(1);
    await goodCallStillWorks();
    for (let i = 0; i < 5; i++) c.send(bad);
    const closed = await c.closed;
    expect(closed.code).toBe(4008);
    expect(closed.reason).toMatch(/^protocol violation: /);
    await goodCallStillWorks();
  });

  it('odd-length PCM and audio before start on the native protocol are counted', async () => {
    const c = new WireClient(`${srv.url}/media/native`);
    await c.opened;
    c.send(Buffer.alloc(640)); // audio before start
    const p = srv.nextCall();
    c.send(render(native.start[0]!));
    const call = await p;
    c.send(Buffer.alloc(641));
    c.send(Buffer.alloc(640));
    await expect.poll(() => call.audio.length).toBe(1);
    expect(call.leg.stats.malformed).toBe(2);
    await goodCallStillWorks();
    c.close();
  });

  it('an oversized message closes 4009', async () => {
    const { c } = await openTwilio();
    c.send(render(twilio.media, { seq: 3, payload: testAudio(9000) }));
    expect((await c.closed).code).toBe(4009);
    await goodCallStillWorks();
  });

  it('a flood of messages closes 4029', async () => {
    const { c } = await openTwilio();
    const msg = render(twilio.media, { seq: 3, payload: testAudio(160) });
    for (let i = 0; i < 300; i++) c.send(msg);
    expect((await c.closed).code).toBe(4029);
    await goodCallStillWorks();
  });

  it('a silent peer is closed 4031 after the idle timeout', async () => {
    const { c } = await openTwilio();
    const closed = await c.closed;
    expect(closed.code).toBe(4031);
    // the good call kept talking, so it was not idle
    await goodCallStillWorks();
  }, 20_000);

  it('a peer that never reads: outbound is dropped and counted, then the call is closed; memory stays bounded', async () => {
    const c = new WireClient(`${srv.url}/media/native`);
    await c.opened;
    const p = srv.nextCall();
    c.send(render(native.start[0]!));
    const call = await p;
    c.ws.pause(); // stop reading: the kernel buffers fill, then ws.bufferedAmount grows
    const big = 'x'.repeat(60_000);
    let keepAlive = true;
    const pump = async () => {
      while (keepAlive && !call.leg.closed) {
        for (let i = 0; i < 50; i++) call.leg.sendEvent({ type: 'event', name: 'flood', data: { big } });
        good.send(render(twilio.media, { seq: goodSeq++, payload: testAudio(160) }));
        // The peer still talks (it only stopped reading), so the idle timeout never beats the flood.
        if (c.ws.readyState === 1) c.send(Buffer.alloc(640));
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const running = pump();
    await eventually(() => call.leg.stats.dropped > 0, 'drops', 20_000);
    const droppedAt = call.leg.stats.dropped;
    // Control messages (clear) still queue: they push bufferedAmount past 4x the cap, and the call is closed.
    while (!call.leg.closed) {
      for (let i = 0; i < 2000 && !call.leg.closed; i++) call.leg.clear();
      call.leg.sendEvent({ type: 'event', name: 'flood', data: { big } });
      if (c.ws.readyState === 1) c.send(Buffer.alloc(640));
      await new Promise((r) => setTimeout(r, 5));
    }
    keepAlive = false;
    await running;
    expect(droppedAt).toBeGreaterThan(0);
    expect(call.stops).toEqual(['peer not reading']);
    c.ws.resume();
    expect((await c.closed).code).toBe(4008);
    await goodCallStillWorks();
  }, 30_000);
});
