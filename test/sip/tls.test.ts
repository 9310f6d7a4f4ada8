import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pcmFormat } from '../../src/audio/format.js';
import { silentLogger } from '../../src/log.js';
import type { OutboundOutcome } from '../../src/sip/outbound.js';
import { type SipServer, startSipServer } from '../../src/sip/server.js';
import type { MediaLeg } from '../../src/telephony/leg.js';
import { Pacer } from '../../src/telephony/pacer.js';
import { assistant } from '../telephony/helpers.js';

/**
 * SIP over TLS with a self-signed certificate made by the test (openssl): OPTIONS over a TLS connection, and a
 * whole call placed by one SIP user agent through the other's TLS port (INVITE, 200, ACK, RTP both ways, BYE),
 * the caller trusting the certificate through `ca` (SIP_TLS_CA).
 */
describe('SIP over TLS', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 've-sip-tls-'));
  const pacer = new Pacer();
  let cert: Buffer;
  let key: Buffer;
  let callee: SipServer;
  let caller: SipServer;
  const calleeLegs: MediaLeg[] = [];
  const callerLegs: { leg: MediaLeg; frames: number; stops: string[] }[] = [];

  const start = (rtp: number, onCall: (leg: MediaLeg) => void, tlsOpts?: Parameters<typeof startSipServer>[0]['tls']) =>
    startSipServer({
      host: '127.0.0.1',
      port: 0,
      rtp: { min: rtp, max: rtp + 99 },
      logger: silentLogger,
      pacer,
      leadMs: 80,
      admit: async () => ({ kind: 'allow' }),
      resolve: async () => ({ ok: true, call: { tenantId: 't', assistant: assistant() } }),
      onCall,
      ...(tlsOpts ? { tls: tlsOpts } : {}),
    });

  beforeAll(async () => {
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'],
        ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
        ...['-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')],
      ],
      { stdio: 'ignore' },
    );
    cert = readFileSync(path.join(dir, 'cert.pem'));
    key = readFileSync(path.join(dir, 'key.pem'));
    callee = await start(
      37000,
      (leg) => {
        calleeLegs.push(leg);
        leg.setHandler({ onAudio: () => {}, onDtmf: () => {}, onMark: () => {}, onStop: () => {} });
        const pcm = new Int16Array(8000);
        for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000));
        leg.play({ format: pcmFormat(8000), data: new Uint8Array(pcm.buffer) });
      },
      { port: 0, cert, key },
    );
    caller = await start(
      37100,
      (leg) => {
        const s = { leg, frames: 0, stops: [] as string[] };
        callerLegs.push(s);
        leg.setHandler({
          onAudio: () => s.frames++,
          onDtmf: () => {},
          onMark: () => {},
          onStop: (r) => s.stops.push(r),
        });
      },
      { port: 0, cert, key, ca: cert },
    );
  });

  afterAll(async () => {
    await caller?.close();
    await callee?.close();
    pacer.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers OPTIONS on the TLS port', async () => {
    expect(callee.tlsPort).toBeGreaterThan(0);
    const s = tls.connect({ host: '127.0.0.1', port: callee.tlsPort!, servername: 'localhost', ca: [cert] });
    await new Promise<void>((r, j) => {
      s.once('secureConnect', () => r());
      s.once('error', j);
    });
    s.write(
      [
        `OPTIONS sip:ping@127.0.0.1:${callee.tlsPort} SIP/2.0`,
        'Via: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bKtls1',
        'From: <sip:a@127.0.0.1>;tag=1',
        'To: <sip:ping@127.0.0.1>',
        'Call-ID: tls1',
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
    const reply = await new Promise<string>((r) => s.once('data', (d: Buffer) => r(d.toString())));
    expect(reply).toMatch(/^SIP\/2\.0 200 OK/);
    s.destroy();
  });

  it('places a call over TLS: answered, audio flows, BYE over the same connection ends both sides', async () => {
    const outcomes: OutboundOutcome[] = [];
    await caller.dial({
      trunk: { host: 'localhost', port: callee.tlsPort!, transport: 'tls' },
      to: '+15550004444',
      ringTimeoutMs: 10_000,
      resolveRequest: { protocol: 'sip', customParameters: {}, headers: {} },
      onOutcome: (o) => outcomes.push(o),
    });
    for (let i = 0; i < 100 && (callerLegs.length === 0 || callerLegs[0]!.frames < 20); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(outcomes).toEqual([{ kind: 'answered' }]);
    expect(calleeLegs).toHaveLength(1);
    expect(callerLegs[0]!.frames).toBeGreaterThanOrEqual(20);
    await callerLegs[0]!.leg.hangup('done');
    for (let i = 0; i < 50 && callee.activeCalls > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(callee.activeCalls).toBe(0);
    expect(caller.activeCalls).toBe(0);
  });
});
