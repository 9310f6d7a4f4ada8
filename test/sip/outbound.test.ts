import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWavFile } from '../../src/audio/wav.js';
import { startSipRegistrations } from '../../src/channels/sip-trunk.js';
import type { Engine } from '../../src/engine.js';
import { silentLogger } from '../../src/log.js';
import { answerWithBaresip, type BaresipCall, hasBaresip, speechWav } from './baresip.js';
import { type SipEngine, startSipEngine } from './engine.js';
import { hasSipp, runSippUas } from './sipp.js';

/**
 * Outbound calls over SIP (issue 19): POST /api/v1/calls/initiate for a tenant whose `sip` plugin names a trunk.
 * The trunk is a real SIP user agent on loopback: Debian's baresip answering at once (answermode=auto), or SIPp
 * running a UAS scenario that challenges our INVITE with digest and then refuses it (busy) or lets it ring out.
 */
const KEY = 'vek_test_sip_outbound_0123456789abcdef';

describe('outbound calls through a SIP trunk', () => {
  let dir: string;
  let engine: Engine;
  let api: SipEngine['api'];
  let assistantId: string;

  const configureTrunk = (config: Record<string, string>) =>
    api('PUT', '/api/v1/account/plugins/configuration/sip', config);

  const initiate = async (to: string) => {
    const r = await api('POST', '/api/v1/calls/initiate', { agent_id: assistantId, to_number: to });
    expect(r.status, JSON.stringify(r.data)).toBe(200);
    return r.data.call_id as string;
  };

  const waitStatus = async (callId: string, want: (s: string) => boolean, ms = 20_000) => {
    let last: Record<string, unknown> = {};
    // Every 250 ms: the API's per-minute rate limit allows it for the longest wait here.
    for (let t = 0; t < ms; t += 250) {
      const r = await api('GET', `/api/v1/calls/${callId}`);
      if (r.status === 200) last = r.data;
      if (want(String(last.status))) return last;
      await new Promise((res) => setTimeout(res, 250));
    }
    throw new Error(`call ${callId} stayed ${String(last.status)}`);
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 've-sip-out-'));
    ({ engine, api } = await startSipEngine(dir, KEY, [46000, 46999]));
    const created = await api('POST', '/api/v1/assistants', {
      name: 'Outbound SIP',
      firstMessage: 'Hello, this is Acme calling about your order.',
    });
    assistantId = created.data.id as string;
    expect((await api('POST', '/api/v1/account/plugins/purchase', { pluginId: 'sip' })).status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await engine?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.skipIf(!hasBaresip)(
    'baresip answers: the call is in progress, the phone hears the greeting, its BYE completes the record',
    async () => {
      const sipPort = 48000 + Math.floor(Math.random() * 1000);
      const phone: BaresipCall = await answerWithBaresip({
        dir: path.join(dir, 'phone'),
        wav: speechWav(dir),
        rtpPorts: '47000-47999',
        sipPort,
        user: '+15550001111',
      });
      try {
        await phone.waitFor(/baresip is ready/i);
        expect((await configureTrunk({ trunkHost: `127.0.0.1:${sipPort}`, fromNumber: '+15550000001' })).status).toBe(
          200,
        );
        const callId = await initiate('+15550001111');
        await phone.waitFor(/^INVITE sip:\+15550001111@127\.0\.0\.1/m);
        await phone.waitFor(/Call established/);
        const live = await waitStatus(callId, (s) => s === 'in-progress');
        expect(live.direction).toBe('outbound');
        // The greeting plays (about 3 s), then the phone hangs up.
        await new Promise((r) => setTimeout(r, 4000));
        phone.send('/hangup');
        const done = await waitStatus(callId, (s) => s === 'completed');
        expect(String(done.providerCallId ?? '')).toMatch(/@127\.0\.0\.1$/);
        expect(engine.sip!.activeCalls).toBe(0);
      } finally {
        await phone.stop();
      }
      const heard = await phone.heardWav();
      expect(heard).toBeDefined();
      const w = await readWavFile(heard!);
      let loud = 0;
      for (let i = 0; i + 160 <= w.samples.length; i += 160) {
        let e = 0;
        for (let j = i; j < i + 160; j++) e += w.samples[j]! * w.samples[j]!;
        if (Math.sqrt(e / 160) > 300) loud++;
      }
      // At least a second of speech (20 ms frames) reached the phone.
      expect(loud * 20).toBeGreaterThan(1000);
    },
    60_000,
  );

  it.skipIf(!hasSipp)(
    'a trunk that challenges with digest, then answers busy: the INVITE is authenticated, the record ends busy',
    async () => {
      const uas = await runSippUas('uas-auth-busy.xml');
      try {
        await configureTrunk({
          trunkHost: `127.0.0.1:${uas.port}`,
          trunkUsername: 'acct1',
          trunkPassword: 'trunk-secret',
        });
        const callId = await initiate('+15550002222');
        const rec = await waitStatus(callId, (s) => !['queued', 'ringing'].includes(s));
        expect(rec.status, JSON.stringify(rec)).toBe('busy');
        expect(String(rec.endReason)).toContain('486');
        // SIPp checked our credentials (verifyauth) and saw the whole scenario through.
        expect(await uas.done()).toBe(0);
      } finally {
        uas.kill();
      }
    },
    60_000,
  );

  it.skipIf(!hasSipp)(
    'registers the tenant whose sip plugin says register, refreshes, and unregisters when the setting goes',
    async () => {
      const registrar = await runSippUas('uas-register.xml');
      // The engine re-reads the plugins every minute; this test runs the same sync at once.
      const regs = startSipRegistrations({
        store: engine.store,
        sip: engine.sip!,
        logger: silentLogger,
        intervalMs: 3_600_000,
      });
      try {
        await configureTrunk({
          trunkHost: `127.0.0.1:${registrar.port}`,
          trunkUsername: 'acct1',
          trunkPassword: 'trunk-secret',
          register: 'true',
          registerExpires: '60',
        });
        await regs.sync();
        const key = Object.keys(engine.sip!.registrations()).find((k) => k.startsWith('tenant:'))!;
        expect(key).toBeDefined();
        for (let i = 0; i < 100 && (engine.sip!.registrations()[key]?.refreshes ?? 0) < 2; i++)
          await new Promise((r) => setTimeout(r, 100));
        expect(engine.sip!.registrations()[key]).toMatchObject({ state: 'registered', expires: 2 });
        await configureTrunk({ register: 'false' });
        await regs.sync();
        expect(await registrar.done(), registrar.stderr).toBe(0);
        expect(engine.sip!.registrations()[key]).toBeUndefined();
      } finally {
        regs.stop();
        registrar.kill();
      }
    },
    30_000,
  );

  it.skipIf(!hasSipp)(
    'a trunk that rings and never answers: CANCEL at the ring timeout, 487, the record ends no-answer',
    async () => {
      const uas = await runSippUas('uas-ring-cancel.xml');
      try {
        await configureTrunk({ trunkHost: `127.0.0.1:${uas.port}`, ringTimeout: '5' });
        const callId = await initiate('+15550003333');
        await waitStatus(callId, (s) => s === 'ringing');
        const rec = await waitStatus(callId, (s) => s !== 'ringing' && s !== 'queued', 20_000);
        expect(rec.status, JSON.stringify(rec)).toBe('no-answer');
        expect(await uas.done()).toBe(0);
      } finally {
        uas.kill();
      }
    },
    60_000,
  );
});
