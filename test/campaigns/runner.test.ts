/**
 * The campaign runner against the loopback Twilio REST fake (dials go through the real outbound worker and dialer),
 * with a stepped clock: windows and backoff are checked by moving the clock, never by waiting. A call's outcome is
 * set on its record as the carrier status callback does (src/api/routes/carrier.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callOutcome, createCampaignRunner } from '../../src/campaigns/runner.js';
import { windowOpen } from '../../src/campaigns/window.js';
import { createChannelDialer } from '../../src/channels/dialer.js';
import { createOutboundWorker } from '../../src/channels/worker.js';
import { silentLogger } from '../../src/log.js';
import { type CampaignSettings, openStore, type Store } from '../../src/store/index.js';
import { startTwilioFake, twilioTenant } from '../channels/twilio-fake.js';

const creds = { sid: 'AC0123456789abcdef0123456789abcdef', token: 'tok_secret' };
let fake: Awaited<ReturnType<typeof startTwilioFake>>;
beforeAll(async () => {
  fake = await startTwilioFake(creds);
});
afterAll(async () => fake.close());

/** Monday 2026-12-07 10:00 in New York (15:00 UTC). */
const MON_10_NY = Date.UTC(2026, 11, 7, 15, 0);
const MIN = 60_000;

const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) void s.close();
});

async function setup(rows: number, settings: Partial<CampaignSettings> = {}, extra: { timezone?: string }[] = []) {
  const store = openStore({ file: ':memory:' });
  stores.push(store);
  const { tenantId, assistantId } = await twilioTenant(store, fake, creds);
  const clock = { t: MON_10_NY };
  const events: [string, Record<string, unknown>][] = [];
  const webhooks = {
    enqueue: async (_t: string, type: string, p: Record<string, unknown>) => void events.push([type, p]),
  };
  const worker = createOutboundWorker({
    store,
    dialer: createChannelDialer({ store, publicUrl: 'https://engine.example.com' }),
    logger: silentLogger,
  });
  const runner = createCampaignRunner({ store, logger: silentLogger, webhooks, now: () => clock.t });
  const list = Array.from({ length: rows }, (_, i) => ({
    phone: `+1555300${String(i).padStart(4, '0')}`,
    metadata: { name: `caller ${i}` },
    ...extra[i],
  }));
  const campaign = await store.campaigns.create(
    tenantId,
    {
      assistantId,
      name: 'test',
      settings: { timezone: 'America/New_York', maxAttempts: 3, retryBackoffSec: 60, maxConcurrent: 2, ...settings },
    },
    list,
  );
  /** One runner pass, then the worker dials what it queued. */
  const pass = async () => {
    await runner.tick();
    await worker.drain();
  };
  const rows_ = () => store.campaigns.rows(tenantId, campaign.id, { limit: 1000 });
  const end = async (seq: number, status: 'completed' | 'busy' | 'no-answer' | 'failed', endReason?: string) => {
    const r = (await rows_()).find((x) => x.seq === seq)!;
    await store.calls.update(r.callId!, { status, ...(endReason ? { endReason } : {}) });
  };
  return { store, tenantId, campaign, clock, events, pass, rows: rows_, end };
}

describe('campaign runner', () => {
  it('a pass with the store unreachable is skipped, not thrown (from its timer it would end the process)', async () => {
    const c = await setup(1);
    const warned: string[] = [];
    const logger = { ...silentLogger, warn: (_o: unknown, msg?: string) => void warned.push(String(msg)) };
    const store = {
      ...c.store,
      campaigns: {
        ...c.store.campaigns,
        running: () => Promise.reject(new Error('timeout exceeded when trying to connect')),
      },
    } as Store;
    const runner = createCampaignRunner({ store, logger: logger as typeof silentLogger, now: () => c.clock.t });
    await expect(runner.tick()).resolves.toBeUndefined();
    expect(warned).toEqual(['campaign pass skipped: store unavailable']);
    // The next pass, with the store back, dials as usual.
    const back = createCampaignRunner({ store: c.store, logger: silentLogger, now: () => c.clock.t });
    await back.tick();
    expect((await c.rows()).map((r) => r.status)).toEqual(['dialing']);
  });

  it('dials up to maxConcurrent at once through the queue, then the next rows as calls end', async () => {
    const c = await setup(5);
    const before = fake.requests.length;
    await c.pass();
    expect(fake.requests.length - before).toBe(2);
    let rows = await c.rows();
    expect(rows.map((r) => r.status)).toEqual(['dialing', 'dialing', 'pending', 'pending', 'pending']);
    // The row's variables travel with the call (prompt variables) and name the campaign.
    const call = await c.store.calls.get(c.tenantId, rows[0]!.callId!);
    expect(call?.metadata).toMatchObject({ name: 'caller 0', campaign_id: c.campaign.id, campaign_row: rows[0]!.id });
    expect(call?.providerCallId).toMatch(/^CA/);
    await c.pass(); // nothing ended: still two in flight
    expect(fake.requests.length - before).toBe(2);
    await c.end(1, 'completed');
    await c.pass();
    rows = await c.rows();
    expect(rows.map((r) => r.status)).toEqual(['completed', 'dialing', 'dialing', 'pending', 'pending']);
    expect(c.events.find(([t]) => t === 'campaign.row')?.[1]).toMatchObject({ seq: 1, status: 'completed' });
    expect(fake.requests.length - before).toBe(3);
  });

  it("the account's concurrent limit caps the campaign too", async () => {
    const c = await setup(4, { maxConcurrent: 10 });
    await c.store.account.setCallLimits(c.tenantId, { maxConcurrent: 1 });
    await c.pass();
    expect((await c.rows()).filter((r) => r.status === 'dialing')).toHaveLength(1);
  });

  it("dials only inside the calling window, in the row's own time zone when it has one", async () => {
    // 09:00-17:00 on weekdays; row 2 is in Tokyo, where Monday 10:00 in New York is Tuesday 00:00.
    const c = await setup(2, { window: { start: '09:00', end: '17:00', days: [1, 2, 3, 4, 5] } }, [
      {},
      { timezone: 'Asia/Tokyo' },
    ]);
    c.clock.t = MON_10_NY - 2 * 60 * MIN; // 08:00 in New York
    await c.pass();
    expect((await c.rows()).map((r) => r.status)).toEqual(['pending', 'pending']);
    c.clock.t = MON_10_NY;
    await c.pass();
    expect((await c.rows()).map((r) => r.status)).toEqual(['dialing', 'pending']);
    c.clock.t = MON_10_NY + 9 * 60 * MIN; // 09:00 in Tokyo
    await c.pass();
    expect((await c.rows()).map((r) => r.status)).toEqual(['dialing', 'dialing']);
  });

  it('retries busy / no-answer after the backoff (doubling), then gives up as failed; the campaign completes', async () => {
    const c = await setup(1, { maxAttempts: 3, retryBackoffSec: 60 });
    await c.pass();
    await c.end(1, 'busy');
    await c.pass();
    let [r] = await c.rows();
    expect(r).toMatchObject({ status: 'pending', attempts: 1, result: 'busy', nextAttemptAt: MON_10_NY + MIN });
    c.clock.t = MON_10_NY + MIN - 1;
    await c.pass();
    expect((await c.rows())[0]!.status).toBe('pending');
    c.clock.t = MON_10_NY + MIN;
    await c.pass();
    [r] = await c.rows();
    expect(r).toMatchObject({ status: 'dialing', attempts: 2 });
    await c.end(1, 'no-answer');
    await c.pass();
    [r] = await c.rows();
    expect(r).toMatchObject({ status: 'pending', nextAttemptAt: MON_10_NY + MIN + 2 * MIN, result: 'no-answer' });
    c.clock.t = MON_10_NY + 3 * MIN;
    await c.pass();
    await c.end(1, 'failed');
    await c.pass();
    [r] = await c.rows();
    expect(r).toMatchObject({ status: 'failed', attempts: 3, result: 'failed' });
    expect((await c.store.campaigns.get(c.tenantId, c.campaign.id))?.status).toBe('completed');
    expect(c.events.map(([t]) => t)).toEqual(['campaign.row', 'campaign.completed']);
    expect(c.events[1]![1]).toMatchObject({ counts: expect.objectContaining({ failed: 1 }) });
  });

  it('never dials the do-not-call list; an opt-out key or "stop calling" puts the number on it', async () => {
    const c = await setup(3, { optOutDigit: '9', maxConcurrent: 3 });
    await c.store.campaigns.addDnc(c.tenantId, ['+15553000000'], 'list');
    await c.pass();
    let rows = await c.rows();
    expect(rows.map((r) => r.status)).toEqual(['dnc', 'dialing', 'dialing']);
    await c.store.calls.appendEvent(rows[1]!.callId!, 'dtmf', { digit: '9', source: 'protocol' });
    await c.store.calls.appendEvent(rows[2]!.callId!, 'transcript', { role: 'user', text: 'please stop calling me' });
    await c.end(2, 'completed');
    await c.end(3, 'completed');
    await c.pass();
    rows = await c.rows();
    expect(rows.map((r) => r.status)).toEqual(['dnc', 'opted_out', 'opted_out']);
    expect(await c.store.campaigns.isDnc(c.tenantId, '+15553000001')).toBe(true);
    expect(await c.store.campaigns.isDnc(c.tenantId, '+15553000002')).toBe(true);
  });

  it('a paused campaign dials nothing until resumed; voicemail results carry answered_by', async () => {
    const c = await setup(2, { maxConcurrent: 1 });
    await c.store.campaigns.setStatus(c.campaign.id, 'paused');
    await c.pass();
    expect((await c.rows()).map((r) => r.status)).toEqual(['pending', 'pending']);
    await c.store.campaigns.setStatus(c.campaign.id, 'running');
    await c.pass();
    const [r] = await c.rows();
    await c.store.calls.update(r!.callId!, { status: 'completed', endReason: 'voicemail', answeredBy: 'machine' });
    await c.pass();
    expect((await c.rows())[0]).toMatchObject({ status: 'completed', result: 'voicemail', answeredBy: 'machine' });
    expect(c.events[0]![1]).toMatchObject({ result: 'voicemail', answered_by: 'machine' });
  });
});

describe('calling windows and outcomes', () => {
  it('windows in local time: weekdays, overnight spans, daylight saving', () => {
    const w = { start: '09:00', end: '17:00', days: [1, 2, 3, 4, 5] };
    expect(windowOpen(w, 'America/New_York', MON_10_NY)).toBe(true);
    expect(windowOpen(w, 'America/New_York', MON_10_NY + 7 * 60 * MIN)).toBe(false); // 17:00
    expect(windowOpen(w, 'America/New_York', MON_10_NY - 2 * 86_400_000)).toBe(false); // Saturday
    expect(windowOpen(w, 'Europe/Paris', MON_10_NY)).toBe(true); // 16:00 in Paris
    // Summer time: 10:00 in New York is 14:00 UTC in July.
    expect(windowOpen({ start: '10:00', end: '10:01' }, 'America/New_York', Date.UTC(2026, 6, 6, 14, 0))).toBe(true);
    const night = { start: '22:00', end: '02:00', days: [5] }; // Friday night into Saturday
    const fri23 = Date.UTC(2026, 11, 12, 4, 0); // Friday 23:00 in New York
    expect(windowOpen(night, 'America/New_York', fri23)).toBe(true);
    expect(windowOpen(night, 'America/New_York', fri23 + 2 * 60 * MIN)).toBe(true); // Saturday 01:00
    expect(windowOpen(night, 'America/New_York', fri23 + 4 * 60 * MIN)).toBe(false);
    expect(windowOpen(undefined, 'UTC', 0)).toBe(true);
  });

  it('maps call records to outcomes', () => {
    const call = (status: string, endReason?: string) =>
      ({ status, endReason, dtmf: [], transcript: [] }) as unknown as Parameters<typeof callOutcome>[0];
    expect(callOutcome(call('ringing'))).toBeUndefined();
    expect(callOutcome(call('in-progress'))).toBeUndefined();
    expect(callOutcome(call('completed'))).toBe('completed');
    expect(callOutcome(call('completed', 'voicemail'))).toBe('voicemail');
    expect(callOutcome(call('busy'))).toBe('busy');
    expect(callOutcome(undefined)).toBe('failed');
  });
});
