import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { GatewayLimits } from '../../src/telephony/gateway.js';
import { eventually, loadFixture, render, startServer, type TestServer, WireClient } from './helpers.js';

/**
 * Anonymous media ingress (issue 11, finding 4): a socket that has not sent its start message is unauthenticated,
 * so it gets a deadline nothing extends, a small byte budget, and a per-IP cap on how many may wait at once.
 */
const twilio = loadFixture('twilio');
const connected = render(twilio.start[0]!);
const start = render(twilio.start[1]!);
let srv: TestServer | undefined;

afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

async function serve(limits: Partial<GatewayLimits>): Promise<TestServer> {
  srv = await startServer({ limits });
  return srv;
}

describe('pre-start deadline', () => {
  it('closes a socket that never starts, even while it keeps sending Twilio `connected`', async () => {
    const s = await serve({ startTimeoutMs: 300, idleTimeoutMs: 60_000 });
    const c = new WireClient(`${s.url}/media/twilio/ast_k`);
    await c.opened;
    const chatter = setInterval(() => {
      if (c.ws.readyState === 1) c.send(connected);
    }, 20);
    try {
      const closed = await c.closed;
      expect(closed).toEqual({ code: 4031, reason: 'no start message within 300 ms' });
    } finally {
      clearInterval(chatter);
    }
    expect(s.resolves).toHaveLength(0);
    expect(s.gateway.stats().connections).toBe(0);
  });

  it('does not apply once the call has started', async () => {
    const s = await serve({ startTimeoutMs: 200, idleTimeoutMs: 60_000 });
    const c = new WireClient(`${s.url}/media/twilio/ast_k`);
    await c.opened;
    c.send(connected);
    c.send(start);
    await s.nextCall();
    // Outlive the start deadline several times over (the sweep runs every 50 ms at these limits).
    await new Promise((r) => setTimeout(r, 800));
    expect(c.closeCode).toBeUndefined();
    c.close();
  });
});

describe('pre-start byte budget', () => {
  it('closes 4009 past maxPrestartBytes before the start message, with the budget in the reason', async () => {
    const s = await serve({ maxPrestartBytes: 16 * 1024, maxMessageBytes: 64 * 1024 });
    const c = new WireClient(`${s.url}/media/twilio/ast_k`);
    await c.opened;
    const filler = JSON.stringify({ event: 'connected', pad: 'x'.repeat(6000) });
    for (let i = 0; i < 4; i++) c.send(filler);
    expect(await c.closed).toEqual({ code: 4009, reason: 'more than 16384 bytes before the start message' });
    expect(s.resolves).toHaveLength(0);
  });

  it('a normal connected + start handshake fits easily', async () => {
    const s = await serve({ maxPrestartBytes: 4096 });
    const c = new WireClient(`${s.url}/media/twilio/ast_k`);
    await c.opened;
    c.send(connected);
    c.send(start);
    await s.nextCall();
    expect(c.closeCode).toBeUndefined();
    c.close();
  });
});

/** An upgrade request's HTTP status (101 when accepted), the socket left open when accepted. */
function upgradeStatus(url: string): Promise<{ status: number; socket?: import('node:net').Socket }> {
  const u = new URL(url.replace('ws://', 'http://'));
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname,
      port: u.port,
      path: u.pathname,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
    req.on('upgrade', (_res, socket) => resolve({ status: 101, socket }));
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('per-IP cap on sockets that have not started', () => {
  it('refuses the upgrade with 429 past maxPendingPerIp; a started call frees its slot', async () => {
    const s = await serve({ maxPendingPerIp: 3 });
    const waiting = [0, 1, 2].map(() => new WireClient(`${s.url}/media/twilio/ast_k`));
    await Promise.all(waiting.map((c) => c.opened));
    expect(s.gateway.stats().pending).toBe(3);
    expect((await upgradeStatus(`${s.url}/media/twilio/ast_k`)).status).toBe(429);
    expect(s.gateway.stats().refusedPending).toBe(1);

    // One of them starts its call: it is authenticated now and no longer counts.
    waiting[0]!.send(start);
    await s.nextCall();
    await eventually(() => s.gateway.stats().pending === 2, 'slot freed by start');
    const ok = await upgradeStatus(`${s.url}/media/twilio/ast_k`);
    expect(ok.status).toBe(101);
    ok.socket!.destroy();
    // A closed waiting socket frees its slot too.
    await eventually(() => s.gateway.stats().pending === 2, 'slot freed by a dropped socket');
    waiting[1]!.close();
    await eventually(() => s.gateway.stats().pending === 1, 'slot freed by close');
    for (const c of waiting) c.close();
  });
});

describe('oversized messages', () => {
  it('past ws maxPayload close 1009 every time (never 1006)', async () => {
    const s = await serve({ maxMessageBytes: 8192 });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const c = new WireClient(`${s.url}/media/twilio/ast_k`);
      await c.opened;
      c.send(connected);
      c.send(start);
      c.send(Buffer.alloc(2 * 1024 * 1024, 0x41));
      codes.push((await c.closed).code);
    }
    expect(codes).toEqual([1009, 1009, 1009, 1009, 1009]);
  });

  it('close 1009 even while the engine still has outbound data queued for the peer', async () => {
    // The old error handler terminated the socket right after ws queued its 1009 close frame: with outbound data
    // still buffered (a peer slow to read), the frame was dropped and the peer saw 1006.
    const big = 'y'.repeat(60_000);
    srv = await startServer({
      limits: { maxMessageBytes: 8192, maxBufferedBytes: 512 * 1024 * 1024 },
      onCall: (leg) => {
        for (let i = 0; i < 300; i++) leg.sendEvent({ type: 'event', name: 'bulk', data: { big } });
      },
    });
    const c = new WireClient(`${srv.url}/media/native/ast_k`);
    await c.opened;
    c.ws.pause();
    c.send(render(loadFixture('native').start[0]!));
    await new Promise((r) => setTimeout(r, 300));
    c.send(Buffer.alloc(2 * 1024 * 1024, 0x41));
    await new Promise((r) => setTimeout(r, 300));
    c.ws.resume();
    expect((await c.closed).code).toBe(1009);
  });

  it('between maxMessageBytes and maxPayload close 4009 with a reason', async () => {
    const s = await serve({ maxMessageBytes: 8192 });
    const c = new WireClient(`${s.url}/media/twilio/ast_k`);
    await c.opened;
    c.send(start);
    await s.nextCall();
    c.send('x'.repeat(12_000));
    expect(await c.closed).toEqual({ code: 4009, reason: 'message of 12000 bytes exceeds 8192' });
  });
});
