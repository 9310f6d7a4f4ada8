import net from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { clientAddress, parseTrustProxy } from '../../src/api/client-ip.js';
import { createTokenBucketLimiter } from '../../src/api/rate-limit.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { openStore } from '../../src/store/index.js';
import { attachGateway } from '../../src/telephony/gateway.js';
import { assistant, loadFixture, render, WireClient } from '../telephony/helpers.js';
import { type Harness, startHarness } from './harness.js';

/**
 * HTTP ingress (issue 11, findings 4 and 6): slow request bodies are cut, X-Forwarded-For is believed only from
 * listed proxies, and rate limits count tenants apart even behind one address.
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** The real token bucket on a stopped clock: no refill while a test runs, however slow the machine. */
const frozen = (perMinute: number) => createTokenBucketLimiter(perMinute, () => 1_000_000);

const login = (x: Harness, i: number) =>
  x.call('POST', '/api/v1/auth/portal/login', {
    headers: { 'x-forwarded-for': `198.51.100.${i % 250}, 203.0.113.${i % 200}` },
    body: { email: x.a.email, portalApiKey: `guess-${i}` },
  });

describe('TRUST_PROXY', () => {
  it('a bare `true` is not honoured: 150 login guesses with a rotating X-Forwarded-For get 429', async () => {
    h = await startHarness({ rateLimiter: frozen(100) }, { TRUST_PROXY: 'true' });
    const statuses: number[] = [];
    for (let i = 0; i < 150; i++) statuses.push((await login(h, i)).status);
    expect(statuses.slice(0, 100).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(100).every((s) => s === 429)).toBe(true);
  });

  it('a hop count is not honoured either', async () => {
    h = await startHarness({ rateLimiter: frozen(20) }, { TRUST_PROXY: '1' });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await login(h, i)).status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
  });

  it('only listed proxies hand over the client address, hop by hop from the right', () => {
    const p = parseTrustProxy('10.0.0.0/8, 127.0.0.1, true, 2');
    expect(p.refused).toEqual(['true', '2']);
    // The proxy at 127.0.0.1 appended what it saw (10.1.1.1, another listed proxy), which appended the client.
    expect(clientAddress(p, '127.0.0.1', '6.6.6.6, 203.0.113.5, 10.1.1.1')).toBe('203.0.113.5');
    // A client talking to the engine directly cannot claim an address.
    expect(clientAddress(p, '198.51.100.7', '203.0.113.5')).toBe('198.51.100.7');
    expect(clientAddress(parseTrustProxy(undefined), '127.0.0.1', '203.0.113.5')).toBe('127.0.0.1');
  });
});

describe('rate limits per account and per IP', () => {
  it("one tenant's flood, and anonymous guessing, from one IP leave another tenant's budget intact", async () => {
    h = await startHarness({ rateLimiter: frozen(20) });
    const a: number[] = [];
    for (let i = 0; i < 25; i++) a.push((await h.call('GET', '/api/v1/assistants', { headers: h.a.h })).status);
    expect(a.filter((s) => s === 429)).toHaveLength(5);
    const guesses: number[] = [];
    for (let i = 0; i < 25; i++) {
      const r = await h.call('GET', '/api/v1/assistants', { headers: { authorization: `Bearer wrong-${i}` } });
      guesses.push(r.status);
    }
    expect(guesses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(guesses.slice(20).every((s) => s === 429)).toBe(true);
    // Tenant B, same address (127.0.0.1), has its whole budget.
    for (let i = 0; i < 20; i++) {
      expect((await h.call('GET', '/api/v1/assistants', { headers: h.b.h })).status).toBe(200);
    }
    const over = await h.call('GET', '/api/v1/assistants', { headers: h.b.h });
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe('RATE_LIMITED');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

/** Sends a request whose body trickles in; resolves with what the server answered once it closes the socket. */
function slowBody(url: string, stopAfterMs: number): Promise<{ closedByServer: boolean; response: string }> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port), u.hostname);
    let response = '';
    let closedByServer = false;
    s.on('data', (d) => {
      response += d.toString('latin1');
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearInterval(drip);
      clearTimeout(giveUp);
      resolve({ closedByServer, response });
    });
    s.on('end', () => {
      closedByServer = true;
    });
    s.write(
      'POST /api/v1/auth/portal/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{',
    );
    const drip = setInterval(() => s.write(' '), 20);
    const giveUp = setTimeout(() => s.destroy(), stopAfterMs);
  });
}

describe('egress default', () => {
  it('warns at start when several tenants share an engine whose egress reaches private ranges', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const store = openStore({ file: ':memory:' });
    try {
      await store.tenants.create({ email: 'one@example.com' });
      await buildApp({ config: loadConfig({ DATA_DIR: '/tmp/unused' }), store, logger }).then((a) => a.close());
      expect(lines.join('')).not.toMatch(/EGRESS_BLOCK_PRIVATE/);
      await store.tenants.create({ email: 'two@example.com' });
      await buildApp({ config: loadConfig({ DATA_DIR: '/tmp/unused' }), store, logger }).then((a) => a.close());
      expect(lines.join('')).toMatch(/more than one tenant and EGRESS_BLOCK_PRIVATE is off/);
      lines.length = 0;
      const strict = loadConfig({ DATA_DIR: '/tmp/unused', EGRESS_BLOCK_PRIVATE: 'true' });
      await buildApp({ config: strict, store, logger }).then((a) => a.close());
      expect(lines.join('')).not.toMatch(/EGRESS_BLOCK_PRIVATE/);
    } finally {
      store.close();
    }
  });
});

describe('HTTP timeouts', () => {
  it('a request whose body never finishes is answered 408 and closed', async () => {
    h = await startHarness({}, { HTTP_REQUEST_TIMEOUT_MS: '300' });
    const r = await slowBody(h.url, 15_000);
    expect(r.closedByServer).toBe(true);
    expect(r.response).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('a media WebSocket on the same server outlives the request timeout', async () => {
    h = await startHarness({}, { HTTP_REQUEST_TIMEOUT_MS: '200' });
    const gateway = attachGateway(h.app.server, {
      logger: silentLogger,
      resolve: async () => ({ ok: true, call: { tenantId: 't', assistant: assistant({ mode: 'echo' }) } }),
      onCall: () => {},
    });
    try {
      const c = new WireClient(`${h.url.replace('http', 'ws')}/media/twilio/ast_k`);
      await c.opened;
      for (const step of loadFixture('twilio').start) c.send(render(step));
      await new Promise((r) => setTimeout(r, 1000));
      expect(c.closeCode).toBeUndefined();
      c.close();
      await c.closed;
    } finally {
      await gateway.close();
    }
  });
});
