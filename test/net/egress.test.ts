import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkAddress,
  checkUrl,
  createGuardedFetch,
  EgressBlockedError,
  type EgressPolicy,
  egressPolicyFromEnv,
  type LookupFn,
} from '../../src/net/egress.js';
import { classifyIp } from '../../src/net/ip-ranges.js';

const open: EgressPolicy = { blockPrivate: false };
const strict: EgressPolicy = { blockPrivate: true };

/** A resolver with fixed answers: the guard must judge whatever DNS says, so tests say it. */
function fakeDns(table: Record<string, string[]>): LookupFn & { asked: string[] } {
  const asked: string[] = [];
  const fn = ((hostname, _opts, cb) => {
    asked.push(hostname);
    const list = table[hostname];
    if (!list) return cb(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
    cb(
      null,
      list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
  }) as LookupFn & { asked: string[] };
  fn.asked = asked;
  return fn;
}

describe('address classification', () => {
  it('always blocks metadata in every spelling, under either policy', () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://2852039166/', // decimal
      'http://0xa9fea9fe/', // hex
      'http://0251.0376.0251.0376/', // octal
      'http://0xa9.0xfe.0xa9.0xfe/',
      'http://[::ffff:169.254.169.254]/',
      'http://[::ffff:a9fe:a9fe]/',
      'http://[64:ff9b::a9fe:a9fe]/', // NAT64
      'http://[fe80::1]/',
      'http://[fd00:ec2::254]/', // AWS IPv6 metadata (inside ULA, still always blocked)
      'http://100.100.100.200/', // Alibaba metadata (inside CGNAT)
      'http://metadata.google.internal/computeMetadata/v1/',
    ]) {
      expect(checkUrl(url, open), url).toMatch(/metadata|link-local/);
      expect(checkUrl(url, strict), url).not.toBeNull();
    }
  });

  it('NAT64: the local-use 64:ff9b:1::/48 is always refused; 64:ff9b::/96 is judged by the IPv4 it embeds', () => {
    for (const ip of ['64:ff9b:1::a9fe:a9fe', '64:ff9b:1::7f00:1', '64:ff9b:1:ffff::808:808', '64:ff9b:1::']) {
      expect(checkAddress(ip, open), ip).toMatch(/local-use NAT64/);
      expect(checkUrl(`http://[${ip}]/`, open), ip).not.toBeNull();
    }
    expect(checkAddress('64:ff9b::a9fe:a9fe', open)).toMatch(/metadata/);
    expect(checkAddress('64:ff9b::169.254.169.254', open)).toMatch(/metadata/);
    expect(checkAddress('64:ff9b::7f00:1', open)).toBeNull(); // loopback: private, open policy
    expect(checkAddress('64:ff9b::7f00:1', strict)).toMatch(/loopback/);
    expect(checkAddress('64:ff9b::808:808', strict)).toBeNull(); // public IPv4 through the well-known prefix
  });

  it('always blocks 0.0.0.0/8, multicast, broadcast and reserved', () => {
    for (const ip of [
      '0.0.0.0',
      '0.1.2.3',
      '224.0.0.1',
      '239.255.255.250',
      '255.255.255.255',
      '240.0.0.1',
      '[ff02::1]',
      '[::]',
    ]) {
      expect(checkUrl(`http://${ip}/`, open), ip).not.toBeNull();
    }
  });

  it('blocks loopback, RFC 1918, ULA and CGNAT only with blockPrivate', () => {
    for (const host of [
      '127.0.0.1',
      '2130706433',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '100.64.0.1',
      '[::1]',
      '[fd12::1]',
      '[::ffff:10.0.0.1]',
      'localhost',
    ]) {
      const url = `http://${host}:8080/x`;
      expect(checkUrl(url, open), url).toBeNull();
      expect(checkUrl(url, strict), url).not.toBeNull();
    }
    expect(classifyIp('172.32.0.1')).toBeNull();
    expect(classifyIp('8.8.8.8')).toBeNull();
    expect(classifyIp('2606:4700::1111')).toBeNull();
  });

  it('refuses other schemes and credentials; accepts ordinary URLs', () => {
    expect(checkUrl('file:///etc/passwd', open)).toMatch(/scheme/);
    expect(checkUrl('gopher://x/', open)).toMatch(/scheme/);
    expect(checkUrl('https://user:pw@example.com/', open)).toMatch(/credentials/);
    expect(checkUrl('not a url', open)).toMatch(/valid URL/);
    expect(checkUrl('https://hooks.example.com/x?y=1', strict)).toBeNull();
    expect(checkUrl('http://8.8.8.8/', strict)).toBeNull();
  });

  it('allowHosts exempts names, wildcards and CIDRs', () => {
    const p: EgressPolicy = {
      blockPrivate: true,
      allowHosts: ['pbx.internal', '*.corp.example', '10.9.0.0/16', '169.254.10.10'],
    };
    expect(checkUrl('http://10.9.3.4/', p)).toBeNull();
    expect(checkUrl('http://10.8.3.4/', p)).not.toBeNull();
    expect(checkUrl('http://169.254.10.10/', p)).toBeNull();
    expect(checkUrl('http://169.254.169.254/', p)).not.toBeNull();
    expect(checkAddress('::ffff:10.9.0.1', p)).toBeNull();
  });

  it('reads the policy from the environment', () => {
    expect(egressPolicyFromEnv({})).toEqual({ blockPrivate: false });
    expect(
      egressPolicyFromEnv({ EGRESS_BLOCK_PRIVATE: 'true', EGRESS_ALLOW_HOSTS: ' a.example , 10.0.0.0/8,' }),
    ).toEqual({
      blockPrivate: true,
      allowHosts: ['a.example', '10.0.0.0/8'],
    });
    expect(egressPolicyFromEnv({ EGRESS_BLOCK_PRIVATE: 'false' }).blockPrivate).toBe(false);
  });
});

describe('guarded fetch over real sockets', () => {
  let server: Server;
  let port: number;
  const hits: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(`${req.method} ${req.headers.host} ${req.url} auth=${req.headers.authorization ?? '-'}`);
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname === '/redirect') {
        res.writeHead(Number(u.searchParams.get('code') ?? 302), { location: u.searchParams.get('to') ?? '/' });
        return res.end();
      }
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`ok ${req.method} ${body}`);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('reaches an allowed loopback server when private ranges are open', async () => {
    const f = createGuardedFetch(open);
    const res = await f(`http://127.0.0.1:${port}/hello`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok POST x');
  });

  it('refuses a literal loopback with blockPrivate before connecting', async () => {
    const before = hits.length;
    const f = createGuardedFetch(strict);
    await expect(f(`http://127.0.0.1:${port}/hello`)).rejects.toBeInstanceOf(EgressBlockedError);
    await expect(f(`http://2130706433:${port}/hello`)).rejects.toThrow(/loopback/);
    expect(hits.length).toBe(before);
  });

  it('checks the resolved address: a name resolving to metadata is refused, to loopback allowed when open', async () => {
    const dns = fakeDns({
      'evil.example': ['169.254.169.254'],
      'mixed.example': ['127.0.0.1', 'fe80::1'],
      'tools.example': ['127.0.0.1'],
    });
    const f = createGuardedFetch(open, fetch, { lookup: dns });
    await expect(f(`http://evil.example:${port}/`)).rejects.toThrow(
      /evil\.example resolves to 169\.254\.169\.254.*link-local/,
    );
    await expect(f(`http://mixed.example:${port}/`)).rejects.toBeInstanceOf(EgressBlockedError);
    const res = await f(`http://tools.example:${port}/ok`);
    expect(await res.text()).toBe('ok GET ');
    expect(dns.asked).toEqual(['evil.example', 'mixed.example', 'tools.example']);

    const g = createGuardedFetch(strict, fetch, { lookup: dns });
    await expect(g(`http://tools.example:${port}/ok`)).rejects.toThrow(/resolves to 127\.0\.0\.1.*loopback/);
    const h = createGuardedFetch({ blockPrivate: true, allowHosts: ['tools.example'] }, fetch, { lookup: dns });
    expect((await h(`http://tools.example:${port}/ok`)).status).toBe(200);
  });

  it('follows redirects with a check on every hop and refuses one to metadata', async () => {
    const f = createGuardedFetch(open);
    const base = `http://127.0.0.1:${port}`;
    const ok = await f(`${base}/redirect?to=${encodeURIComponent('/final')}`, { method: 'POST', body: 'b' });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('ok GET '); // 302 after POST becomes GET (fetch spec)
    const kept = await f(`${base}/redirect?code=307&to=${encodeURIComponent('/final')}`, { method: 'POST', body: 'b' });
    expect(await kept.text()).toBe('ok POST b');

    for (const to of [
      'http://169.254.169.254/latest/meta-data/',
      'http://0xa9fea9fe/',
      'http://[::ffff:169.254.169.254]/',
    ]) {
      await expect(f(`${base}/redirect?to=${encodeURIComponent(to)}`)).rejects.toBeInstanceOf(EgressBlockedError);
    }
    const manual = await f(`${base}/redirect?to=${encodeURIComponent('http://169.254.169.254/')}`, {
      redirect: 'manual',
    });
    expect(manual.status).toBe(302);
  });

  it('drops credentials on a cross-origin hop; a Request input follows with its method', async () => {
    const dns = fakeDns({ 'other.example': ['127.0.0.1'] });
    const f = createGuardedFetch(open, fetch, { lookup: dns });
    const to = `http://other.example:${port}/final`;
    hits.length = 0;
    const res = await f(`http://127.0.0.1:${port}/redirect?code=307&to=${encodeURIComponent(to)}`, {
      headers: { authorization: 'Bearer secret' },
    });
    expect(res.status).toBe(200);
    expect(hits).toEqual([
      `GET 127.0.0.1:${port} /redirect?code=307&to=${encodeURIComponent(to)} auth=Bearer secret`,
      `GET other.example:${port} /final auth=-`,
    ]);
    const viaRequest = await f(
      new Request(`http://127.0.0.1:${port}/redirect?code=303&to=%2Fdone`, { method: 'DELETE' }),
    );
    expect(await viaRequest.text()).toBe('ok GET ');
    await expect(
      f(new Request(`http://127.0.0.1:${port}/redirect?code=307&to=%2Fdone`, { method: 'POST', body: 'x' })),
    ).rejects.toThrow(/cannot replay/);
  });

  it('stops after 5 redirects', async () => {
    const f = createGuardedFetch(open);
    const base = `http://127.0.0.1:${port}`;
    let url = `${base}/final`;
    for (let i = 0; i < 6; i++) url = `${base}/redirect?to=${encodeURIComponent(url)}`;
    await expect(f(url)).rejects.toThrow(/more than 5 redirects/);
    url = `${base}/final`;
    for (let i = 0; i < 5; i++) url = `${base}/redirect?to=${encodeURIComponent(url)}`;
    expect((await f(url)).status).toBe(200);
  });
});
