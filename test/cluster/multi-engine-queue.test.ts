import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectStore, type Store } from '../../src/store/index.js';
import { startTwilioFake, twilioTenant } from '../channels/twilio-fake.js';
import { findPgBin, type PgCluster, startPgCluster } from '../store/pg-cluster.js';
import { type EngineProc, SECRETS_KEY, startEngineProc, stopProc, until } from './engine-proc.js';

/**
 * The shared outbound queue with two real engine processes on one throwaway Postgres, against the loopback Twilio
 * fake (its REST Calls.json, credentials checked): 20 queued calls are dialled by both engines (the fake holds the
 * first requests, so both engines' dialing lanes are seen busy at once), no number twice; Postgres restarted while
 * dials are in flight loses no queued call and no call record.
 */
const hasPg = findPgBin() !== undefined;
// Two engines plus Postgres: alone, like the other multi-engine tests (.ci/run, MULTI_ENGINE_TEST=1).
const run = hasPg && process.env.MULTI_ENGINE_TEST === '1';
const creds = { sid: 'AC0123456789abcdef0123456789abcdef', token: 'queue-test-token' };

describe.skipIf(!run)('the outbound queue across two engine processes', { timeout: 180_000 }, () => {
  let cluster: PgCluster;
  let fake: Awaited<ReturnType<typeof startTwilioFake>>;
  let store: Store;
  let a: EngineProc;
  let b: EngineProc;
  const dirs: string[] = [];

  beforeAll(async () => {
    cluster = await startPgCluster();
    fake = await startTwilioFake(creds);
    const url = await cluster.newDatabase();
    for (let i = 0; i < 3; i++) dirs.push(mkdtempSync(path.join(tmpdir(), 've-queue-')));
    a = await startEngineProc(url, dirs[0]!, { env: { PUBLIC_URL: 'https://engine.example.com' } });
    b = await startEngineProc(url, dirs[1]!, { env: { PUBLIC_URL: 'https://engine.example.com' } });
    // This process writes to the same database as the engines, with their secrets key (plugin credentials).
    store = await connectStore({ dataDir: dirs[2]!, databaseUrl: url, secretsKey: SECRETS_KEY });
  }, 400_000);

  afterAll(async () => {
    fake?.release();
    await Promise.all([a && stopProc(a.proc, 'SIGKILL'), b && stopProc(b.proc, 'SIGKILL')]);
    await store?.close();
    await fake?.close();
    await cluster?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('dials 20 queued calls from both engines, none twice, across a Postgres restart', async () => {
    const { tenantId, assistantId } = await twilioTenant(store, fake, creds);
    const numbers = Array.from({ length: 20 }, (_, i) => `+1555400${String(i).padStart(4, '0')}`);
    // Held: every dial waits at the fake, so each engine's 8 dialing lanes stay busy with what they claimed.
    fake.hold();
    const callIds: string[] = [];
    for (const to of numbers) {
      const call = await store.calls.create({ tenantId, assistantId, direction: 'outbound', status: 'queued', to });
      callIds.push(call.id);
      await store.outbound.enqueue({ tenantId, callId: call.id, assistantId, to, channel: 'twilio', metadata: {} });
    }
    // More dials in flight than one engine has lanes (8): both engines are dialling from the one queue.
    await until(async () => (fake.flight.inFlight > 8 ? true : undefined), 'dials in flight from both engines', 600);
    // Postgres goes away and comes back while those dials are in flight and the rest are still queued.
    await cluster.restart();
    fake.release();
    const dialled = () => fake.requests.filter((r) => r.path.endsWith('/Calls.json')).map((r) => r.form.To!);
    await until(async () => (new Set(dialled()).size === 20 ? true : undefined), 'all 20 numbers dialled', 900);
    // Both engines poll the queue every second: a second dial of any number would have happened by now.
    await new Promise((r) => setTimeout(r, 3000));
    expect(dialled().sort()).toEqual(numbers);
    expect(fake.flight.maxInFlight).toBeGreaterThan(8);
    // No queued call lost and every call record carries its dial (the engines wrote them after the restart).
    expect(await store.outbound.countQueued()).toBe(0);
    for (const id of callIds) {
      const c = await store.calls.get(tenantId, id);
      // The carrier's call sid on the record (its status is the carrier's: Twilio answers a dial with 'queued').
      expect(c?.providerCallId, id).toMatch(/^CA/);
    }
  });
});
