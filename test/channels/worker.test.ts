/**
 * The outbound worker dials concurrently (issue 18), each call within its tenant's concurrent-call limit, against
 * the loopback Twilio REST fake.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChannelDialer } from '../../src/channels/dialer.js';
import { createOutboundWorker } from '../../src/channels/worker.js';
import { silentLogger } from '../../src/log.js';
import { openStore, type Store } from '../../src/store/index.js';
import { startTwilioFake, twilioTenant } from './twilio-fake.js';

const creds = { sid: 'AC0123456789abcdef0123456789abcdef', token: 'tok_secret' };
let fake: Awaited<ReturnType<typeof startTwilioFake>>;
beforeAll(async () => {
  fake = await startTwilioFake(creds);
});
afterAll(async () => fake.close());

async function setup(jobs: number) {
  const store = openStore({ file: ':memory:' });
  const { tenantId, assistantId } = await twilioTenant(store, fake, creds);
  const calls: string[] = [];
  const queue: string[] = [];
  for (let i = 0; i < jobs; i++) {
    const to = `+1555222${String(i).padStart(4, '0')}`;
    const call = await store.calls.create({ tenantId, assistantId, direction: 'outbound', to });
    calls.push(call.id);
    queue.push((await store.outbound.enqueue({ tenantId, callId: call.id, assistantId, to })).id);
  }
  return { store, tenantId, calls, queue };
}

const until = async (cond: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`timed out waiting for: ${what}`);
};

function worker(store: Store, concurrency: number) {
  return createOutboundWorker({
    store,
    dialer: createChannelDialer({ store, publicUrl: 'https://engine.example.com' }),
    logger: silentLogger,
    concurrency,
    limitRetryMs: 60_000,
  });
}

describe('outbound worker concurrency', () => {
  it('has `concurrency` dials in flight at once, not one at a time', async () => {
    const { store, tenantId, calls } = await setup(7);
    fake.flight.maxInFlight = 0;
    fake.hold();
    const drained = worker(store, 3).drain();
    await until(() => fake.flight.inFlight === 3, 'three dials in flight');
    fake.release();
    await drained;
    expect(fake.flight.maxInFlight).toBe(3);
    for (const id of calls) expect((await store.calls.get(tenantId, id))?.providerCallId).toMatch(/^CA/);
    store.close();
  });

  it("never exceeds the tenant's concurrent-call limit; jobs without a free line wait, not failed, no attempt used", async () => {
    const { store, tenantId, calls, queue } = await setup(5);
    await store.account.setCallLimits(tenantId, { maxConcurrent: 2 });
    const before = fake.requests.length;
    await worker(store, 5).drain();
    expect(fake.requests.length - before).toBe(2);
    const statuses = await Promise.all(calls.map(async (id) => (await store.calls.get(tenantId, id))?.status));
    expect(statuses.filter((s) => s === 'queued' || s === 'ringing')).toHaveLength(5);
    const dialled = (await Promise.all(calls.map((id) => store.calls.get(tenantId, id)))).filter(
      (c) => c?.providerCallId,
    );
    expect(dialled).toHaveLength(2);
    const waiting = (await Promise.all(queue.map((id) => store.outbound.get(id)))).filter(
      (j) => j?.status === 'queued',
    );
    expect(waiting).toHaveLength(3);
    for (const j of waiting)
      expect(j).toMatchObject({ attempts: 0, error: expect.stringMatching(/Concurrent call limit/) });
    store.close();
  });
});
