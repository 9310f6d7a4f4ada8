import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentile } from '../../src/api/routes/analytics.js';
import { toolResponseRow } from '../../src/call/analytics-rows.js';
import { createChannelDialer } from '../../src/channels/dialer.js';
import { startTwilioFake } from '../channels/twilio-fake.js';
import { type Harness, startHarness, useTwilioFake } from './harness.js';

const creds = { sid: 'ACanalyticsanalyticsanalyticsanaly', token: 'tok' };
let h: Harness;
let twilio: Awaited<ReturnType<typeof startTwilioFake>>;

beforeAll(async () => {
  twilio = await startTwilioFake(creds);
  h = await startHarness(
    (store) => ({ dialer: createChannelDialer({ store, publicUrl: 'https://engine.example.com' }) }),
    { PUBLIC_URL: 'https://engine.example.com' },
  );
  await useTwilioFake(h, h.a, creds, twilio.url);
});
afterAll(async () => {
  await h.close();
  await twilio.close();
});

describe('analytics', () => {
  it('calls carry latency p50 and p95 from the voice-to-voice latency of their turns', async () => {
    const ast = (await h.call('POST', '/api/v1/assistants', { headers: h.a.h, body: {} })).body.data;
    const c = await h.store.calls.create({
      tenantId: h.a.id,
      assistantId: ast.id,
      direction: 'inbound',
      status: 'completed',
      metadata: {},
    });
    for (const ms of [900, 700, 1500, 800, 3000, 650, 720, 1100, 980, 760]) {
      await h.store.calls.appendEvent(c.id, 'turn', { turn: 1, voiceToVoiceMs: ms });
    }
    const rows = (await h.call('GET', '/api/v1/account/analytics/calls', { headers: h.a.h })).body.data.rows;
    expect(rows[0]).toMatchObject({ call_id: c.id, turns: 10, latency_p50_ms: 800, latency_p95_ms: 3000 });
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([10, 20, 30, 40], 0.5)).toBe(20);
  });

  it("one pre-call row per outbound decision: the assistant's number validation and the call limit", async () => {
    const ast = (
      await h.call('POST', '/api/v1/assistants', {
        headers: h.a.h,
        body: { precall: { numberValidation: { enabled: true, allowedPrefixes: ['+39'] } } },
      })
    ).body.data;
    const send = (to: string) =>
      h.call('POST', '/api/v1/calls/initiate', { headers: h.a.h, body: { agent_id: ast.id, to_number: to } });
    expect((await send('+2348012345678')).status).toBe(422);
    expect((await send('+390815551234')).status).toBe(200);
    await h.call('PATCH', '/api/v1/account/call-limits', { headers: h.a.h, body: { maxPerDay: 0 } });
    expect((await send('+390815551235')).status).toBe(429);
    await h.call('PATCH', '/api/v1/account/call-limits', { headers: h.a.h, body: { maxPerDay: null } });
    const rows = (await h.call('GET', '/api/v1/account/analytics/pre-call', { headers: h.a.h })).body.data.rows;
    expect(rows.map((r: Record<string, unknown>) => [r.check, r.decision, r.number])).toEqual([
      ['call_limit', 'refused', '+390815551235'],
      ['number_validation', 'allowed', '+390815551235'],
      ['number_validation', 'allowed', '+390815551234'],
      ['number_validation', 'refused', '+2348012345678'],
    ]);
    expect(rows[3]).toMatchObject({ kind: 'pre-call', direction: 'outbound', assistant_id: ast.id });
    expect(rows[3].reason).toMatch(/allowed prefixes/);
    // Another tenant sees none of them.
    expect((await h.call('GET', '/api/v1/account/analytics/pre-call', { headers: h.b.h })).body.data.rows).toEqual([]);
  });

  it('a tool-responses row from a finished tool event: tool, ok/error, latency, size', () => {
    expect(
      toolResponseRow('c_1', 'ag_1', {
        name: 'lookup',
        ok: false,
        result: '{"error":"HTTP 500"}',
        bytes: 20,
        ms: 312,
        turn: 2,
      }),
    ).toEqual({
      call_id: 'c_1',
      assistant_id: 'ag_1',
      tool: 'lookup',
      status: 'error',
      error: 'HTTP 500',
      latency_ms: 312,
      size_bytes: 20,
      turn: 2,
      source: 'llm',
    });
    // The filler notice of a slow tool is not a response.
    expect(toolResponseRow('c_1', 'ag_1', { name: 'lookup', filler: 'One moment', turn: 2 })).toBeUndefined();
  });
});
