import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { refreshInMs } from '../../src/sip/register.js';
import { type SipServer, startSipServer } from '../../src/sip/server.js';
import { Pacer } from '../../src/telephony/pacer.js';
import { hasSipp, runSippUas } from './sipp.js';

/**
 * Registration to a trunk that asks for it, against SIPp as the registrar (test/sip/sipp/uas-register.xml): it
 * challenges every REGISTER (401, qop=auth) and checks the digest itself (verifyauth), grants 2 s so that the
 * engine must refresh, and requires the last REGISTER to be the unregister (Expires: 0). SIPp exits 0 only when
 * the whole sequence happened.
 */
describe('SIP registration', () => {
  let server: SipServer;
  const pacer = new Pacer();

  beforeAll(async () => {
    server = await startSipServer({
      host: '127.0.0.1',
      port: 0,
      rtp: { min: 36000, max: 36999 },
      logger: silentLogger,
      pacer,
      leadMs: 80,
      admit: async () => ({ kind: 'reject', status: 403, reason: 'Forbidden' }),
      resolve: async () => ({ ok: false, code: 4003, reason: 'no' }),
      onCall: () => {},
    });
  });

  afterAll(async () => {
    await server.close();
    pacer.stop();
  });

  it('refreshes before the granted expiry: halfway for short grants, 30 s before for long ones', () => {
    expect(refreshInMs(2)).toBe(1000);
    expect(refreshInMs(40)).toBe(20_000);
    expect(refreshInMs(3600)).toBe(3_570_000);
  });

  it.skipIf(!hasSipp)(
    'registers with digest, refreshes before expiry, and unregisters (Expires: 0) on stop',
    async () => {
      const registrar = await runSippUas('uas-register.xml');
      try {
        server.register('trunk', {
          trunk: {
            host: '127.0.0.1',
            port: registrar.port,
            transport: 'udp',
            credentials: { username: 'acct1', password: 'trunk-secret' },
          },
          user: 'acct1',
          expiresS: 600,
        });
        // Registered, granted 2 s, then refreshed once before it ran out.
        for (let i = 0; i < 100 && (server.registrations().trunk?.refreshes ?? 0) < 2; i++)
          await new Promise((r) => setTimeout(r, 100));
        const s = server.registrations().trunk!;
        expect(s.state, JSON.stringify(s)).toBe('registered');
        expect(s.expires).toBe(2);
        expect(s.refreshes).toBeGreaterThanOrEqual(2);
        await server.unregister('trunk');
        expect(server.registrations().trunk).toBeUndefined();
        expect(await registrar.done(), registrar.stderr).toBe(0);
      } finally {
        registrar.kill();
      }
    },
    30_000,
  );

  it.skipIf(!hasSipp)(
    'reports a registrar that refuses the credentials as failed',
    async () => {
      const registrar = await runSippUas('uas-register.xml');
      try {
        server.register('wrong', {
          trunk: {
            host: '127.0.0.1',
            port: registrar.port,
            transport: 'udp',
            credentials: { username: 'acct1', password: 'not-the-secret' },
          },
          user: 'acct1',
          expiresS: 600,
          retryMs: 60_000,
        });
        for (let i = 0; i < 50 && server.registrations().wrong?.state !== 'failed'; i++)
          await new Promise((r) => setTimeout(r, 100));
        expect(server.registrations().wrong).toMatchObject({ state: 'failed', error: '403 Forbidden' });
        await server.unregister('wrong');
      } finally {
        registrar.kill();
      }
    },
    20_000,
  );
});
