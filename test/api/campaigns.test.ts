/**
 * /api/v1/campaigns over HTTP: upload (JSON and CSV, bad rows reported), progress, rows, pause / resume / cancel,
 * the do-not-call list, tenant isolation, OpenAPI. The app's own runner dials through the loopback Twilio fake.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChannelDialer } from '../../src/channels/dialer.js';
import { twilioPostSignature } from '../../src/channels/twilio-status.js';
import { startTwilioFake } from '../channels/twilio-fake.js';
import { type Harness, startHarness, useTwilioFake } from './harness.js';

const creds = { sid: 'ACfeedfeedfeedfeedfeedfeedfeedfeed', token: 'tw_token' };
let h: Harness;
let twilio: Awaited<ReturnType<typeof startTwilioFake>>;
let agent: string;
const events: [string, Record<string, unknown>][] = [];

beforeAll(async () => {
  twilio = await startTwilioFake(creds);
  h = await startHarness(
    (store) => ({
      dialer: createChannelDialer({ store, publicUrl: 'https://engine.example.com' }),
      webhooks: { enqueue: async (_t, type, p) => void events.push([type, p]) },
    }),
    { PUBLIC_URL: 'https://engine.example.com' },
  );
  agent = (await h.call('POST', '/api/v1/assistants', { headers: h.a.h, body: { name: 'Caller' } })).body.data.id;
  await useTwilioFake(h, h.a, creds, twilio.url);
});
afterAll(async () => {
  await h.close();
  await twilio.close();
});

const create = (body: Record<string, unknown>, tenant = h.a) =>
  h.call('POST', '/api/v1/campaigns', { headers: tenant.h, body: { name: 'spring', agent_id: agent, ...body } });

describe('campaign routes', () => {
  it('creates from JSON rows, reports bad rows, and dials through the queue', async () => {
    const r = await create({
      timezone: 'America/New_York',
      max_concurrent: 2,
      rows: [
        { phone: '+15554000001', metadata: { name: 'Ada', order: 42 } },
        { phone: 'not-a-number' },
        { phone: '+15554000002', timezone: 'Mars/Olympus' },
        { phone: '+15554000001' },
        { phone: '+15554000003', timezone: 'Europe/Paris' },
      ],
    });
    expect(r.status).toBe(201);
    expect(r.body.data.accepted).toBe(2);
    expect(r.body.data.rejected.map((x: { row: number }) => x.row)).toEqual([2, 3, 4]);
    expect(r.body.data.rejected[1].reason).toMatch(/time zone/);
    const c = r.body.data.campaign;
    expect(c).toMatchObject({ status: 'running', timezone: 'America/New_York', max_attempts: 3, max_concurrent: 2 });
    expect(c.counts.pending).toBe(2);
    // The app's runner ticks every 2 s; both rows are dialled (through the fake) without waiting on each other.
    for (let i = 0; i < 500; i++) {
      const rows = (await h.call('GET', `/api/v1/campaigns/${c.id}/rows`, { headers: h.a.h })).body.data.rows;
      if (rows.every((x: { call_id?: string }) => x.call_id)) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    const rows = (await h.call('GET', `/api/v1/campaigns/${c.id}/rows`, { headers: h.a.h })).body.data.rows;
    expect(rows.map((x: { status: string }) => x.status)).toEqual(['dialing', 'dialing']);
    expect(rows[0]).toMatchObject({ seq: 1, phone: '+15554000001', metadata: { name: 'Ada', order: '42' } });
    const call = (await h.call('GET', `/api/v1/calls/${rows[0].call_id}`, { headers: h.a.h })).body.data;
    expect(call.metadata).toMatchObject({ name: 'Ada', campaign_id: c.id });
    // The carrier reports the outcomes (signed Twilio status callbacks): busy is retried later, an answer by a
    // machine (Twilio AnsweredBy) completes the row with answered_by.
    const report = async (callId: string, status: string, extra: Record<string, string> = {}) => {
      const c2 = (await h.call('GET', `/api/v1/calls/${callId}`, { headers: h.a.h })).body.data;
      const url = `https://engine.example.com/webhook/twilio/status/${callId}`;
      const params = { AccountSid: creds.sid, CallSid: c2.providerCallId, CallStatus: status, ...extra };
      const res = await fetch(`${h.url}/webhook/twilio/status/${callId}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': twilioPostSignature(creds.token, url, params),
        },
        body: new URLSearchParams(params).toString(),
      });
      expect(res.status).toBe(200);
    };
    await report(rows[0].call_id, 'busy');
    await report(rows[1].call_id, 'completed', { AnsweredBy: 'machine_end_beep', CallDuration: '20' });
    let settled: { status: string; result?: string; answered_by?: string; attempts: number }[] = [];
    for (let i = 0; i < 500; i++) {
      settled = (await h.call('GET', `/api/v1/campaigns/${c.id}/rows`, { headers: h.a.h })).body.data.rows;
      if (settled.every((x) => x.status !== 'dialing')) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    expect(settled[0]).toMatchObject({ status: 'pending', result: 'busy', attempts: 1 });
    expect(settled[1]).toMatchObject({ status: 'completed', result: 'completed', answered_by: 'machine' });
    expect(events.find(([t]) => t === 'campaign.row')?.[1]).toMatchObject({ seq: 2, answered_by: 'machine' });
    // Another tenant sees nothing of it.
    expect((await h.call('GET', `/api/v1/campaigns/${c.id}`, { headers: h.b.h })).status).toBe(404);
    expect((await h.call('GET', '/api/v1/campaigns', { headers: h.b.h })).body.data).toEqual([]);
  });

  it('creates from CSV (variables per column), pauses, resumes, cancels; wrong moves are 409', async () => {
    const csv = 'phone,first_name,timezone\n+15554100001,Ada,Europe/London\n"+15554100002","Bo, Jr.",\nbad,Cy,\n';
    const r = await create({ csv, window: { start: '00:00', end: '00:01' } });
    expect(r.status).toBe(201);
    expect(r.body.data.accepted).toBe(2);
    expect(r.body.data.rejected).toEqual([{ row: 3, phone: 'bad', reason: 'not an E.164 phone number' }]);
    const id = r.body.data.campaign.id;
    const rows = (await h.call('GET', `/api/v1/campaigns/${id}/rows?limit=1`, { headers: h.a.h })).body.data;
    expect(rows.rows[0]).toMatchObject({
      phone: '+15554100001',
      timezone: 'Europe/London',
      metadata: { first_name: 'Ada' },
    });
    expect(rows.next_after).toBe(1);
    const next = (await h.call('GET', `/api/v1/campaigns/${id}/rows?after=1`, { headers: h.a.h })).body.data;
    expect(next.rows[0].metadata).toEqual({ first_name: 'Bo, Jr.' });
    const move = (a: string) => h.call('POST', `/api/v1/campaigns/${id}/${a}`, { headers: h.a.h });
    expect((await move('resume')).body.error.code).toBe('CONFLICT');
    expect((await move('pause')).body.data.status).toBe('paused');
    expect((await move('resume')).body.data.status).toBe('running');
    const cancelled = await move('cancel');
    expect(cancelled.body.data).toMatchObject({ status: 'cancelled', counts: { cancelled: 2, pending: 0 } });
    expect((await move('pause')).status).toBe(409);
    expect(events.map(([t]) => t)).toEqual(
      expect.arrayContaining(['campaign.paused', 'campaign.resumed', 'campaign.cancelled']),
    );
    const list = (await h.call('GET', '/api/v1/campaigns', { headers: h.a.h })).body.data;
    expect(list.map((c: { id: string }) => c.id)).toContain(id);
  });

  it('refuses bad input with clear errors', async () => {
    expect((await create({ rows: [{ phone: '+15554200001' }], timezone: 'Nowhere/City' })).body.error.code).toBe(
      'VALIDATION_FAILED',
    );
    expect((await create({})).body.error.code).toBe('VALIDATION_FAILED');
    const none = await create({ rows: [{ phone: 'x' }] });
    expect(none.status).toBe(422);
    expect(none.body.error.code).toBe('UNPROCESSABLE');
    expect((await create({ csv: 'name\nAda\n' })).body.error.message).toMatch(/phone/);
    expect((await create({ rows: [{ phone: '+15554200001' }], agent_id: 'ag_nope' })).body.error.code).toBe(
      'ASSISTANT_NOT_FOUND',
    );
    expect((await h.call('GET', '/api/v1/campaigns/cmp_nope', { headers: h.a.h })).body.error.code).toBe(
      'CAMPAIGN_NOT_FOUND',
    );
  });

  it('keeps a do-not-call list per tenant', async () => {
    const add = await h.call('POST', '/api/v1/campaigns/dnc', {
      headers: h.a.h,
      body: { numbers: ['+15554300001', '+15554300002'] },
    });
    expect(add.body.data.added).toBe(2);
    expect(
      (await h.call('POST', '/api/v1/campaigns/dnc', { headers: h.a.h, body: { numbers: ['12'] } })).body.error.code,
    ).toBe('INVALID_PHONE_NUMBER');
    const list = (await h.call('GET', '/api/v1/campaigns/dnc', { headers: h.a.h })).body.data;
    expect(list.map((e: { number: string }) => e.number)).toEqual(['+15554300001', '+15554300002']);
    expect((await h.call('GET', '/api/v1/campaigns/dnc', { headers: h.b.h })).body.data).toEqual([]);
    const del = await h.call('DELETE', `/api/v1/campaigns/dnc/${encodeURIComponent('+15554300001')}`, {
      headers: h.a.h,
    });
    expect(del.body.data.removed).toBe(true);
    expect((await h.call('DELETE', '/api/v1/campaigns/dnc/%2B15554300001', { headers: h.a.h })).status).toBe(404);
  });

  it('appears in OpenAPI', async () => {
    const spec = (await h.call('GET', '/openapi.json')).body;
    for (const p of [
      '/api/v1/campaigns',
      '/api/v1/campaigns/{id}',
      '/api/v1/campaigns/{id}/rows',
      '/api/v1/campaigns/{id}/pause',
      '/api/v1/campaigns/{id}/resume',
      '/api/v1/campaigns/{id}/cancel',
      '/api/v1/campaigns/dnc',
      '/api/v1/campaigns/dnc/{number}',
    ])
      expect(spec.paths[p], p).toBeDefined();
    expect(
      spec.paths['/api/v1/campaigns'].post.requestBody.content['application/json'].schema.properties,
    ).toHaveProperty('csv');
  });
});
