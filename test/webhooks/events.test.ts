import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { openStore } from '../../src/store/index.js';
import { createWebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import { snakeKeys, WEBHOOK_EVENT_SCHEMAS, WEBHOOK_SCHEMA_VERSION } from '../../src/webhooks/events.js';
import { startReceiver } from './receiver.js';

/** A call summary as the session produces it (src/call/deps.ts CallSummary), camelCase. */
const summary = {
  callId: 'c_abc',
  assistantId: 'ag_1',
  protocol: 'twilio',
  startedAt: '2026-12-06T10:00:00.000Z',
  endedAt: '2026-12-06T10:01:00.000Z',
  durationMs: 60_000,
  endReason: 'end_call',
  endedBy: 'end_call',
  transcript: [{ role: 'user', text: 'hi', turn: 1, atMs: 1200 }],
  turns: 1,
  bargeIns: 0,
  digits: [],
  toolCalls: [{ name: 'end_call', ok: true }],
  structuredOutput: { customerName: 'Ann', orderId: 42 },
};

describe('webhook wire format, version 1', () => {
  it('snake_case keys everywhere except in the customer-owned metadata and structured output', () => {
    expect(snakeKeys({ callId: 'c', metadata: { leadId: 1 }, toolCalls: [{ latencyMs: 3 }], x: undefined })).toEqual({
      call_id: 'c',
      metadata: { leadId: 1 },
      tool_calls: [{ latency_ms: 3 }],
    });
  });

  it('delivers {id, type, version, created_at, data} with data matching the documented schema', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wh-'));
    const store = openStore({ dataDir: dir });
    const rx = await startReceiver();
    try {
      const t = await store.tenants.create({ email: 'a@x' });
      await store.webhooks.createEndpoint(t.id, { url: rx.url, events: ['call.ended', 'call.failed'] });
      const d = createWebhookDispatcher({ store, logger: silentLogger, pollMs: 20 });
      d.start();
      await d.enqueue(t.id, 'call.ended', {
        call_id: summary.callId,
        assistant_id: summary.assistantId,
        ...summary,
        recording_url: 'https://engine.example.com/recordings/c_abc.wav?expires=1&sig=00',
      });
      await d.enqueue(t.id, 'call.failed', {
        call_id: 'c_x',
        direction: 'outbound',
        to: '+2348012345678',
        metadata: { leadId: '7' },
        reason: 'busy',
      });
      await rx.waitFor(2);
      await d.stop();
      for (const got of rx.received) {
        const body = JSON.parse(got.body);
        expect(Object.keys(body).sort()).toEqual(['created_at', 'data', 'id', 'type', 'version']);
        expect(body.version).toBe(WEBHOOK_SCHEMA_VERSION);
        const schema = WEBHOOK_EVENT_SCHEMAS[body.type as 'call.ended'];
        expect(
          Value.Check(schema, body.data),
          `${body.type}: ${JSON.stringify([...Value.Errors(schema, body.data)])}`,
        ).toBe(true);
        // No camelCase key anywhere outside customer data.
        const { metadata: _m, structured_output: _s, ...rest } = body.data;
        expect(JSON.stringify(rest)).not.toMatch(/"[a-z]+[A-Z][A-Za-z]*":/);
      }
      const ended = JSON.parse(rx.received.find((r) => r.headers['x-webhook-event'] === 'call.ended')!.body).data;
      expect(ended).toMatchObject({
        call_id: 'c_abc',
        duration_ms: 60_000,
        transcript: [{ at_ms: 1200 }],
        structured_output: { customerName: 'Ann', orderId: 42 },
      });
      expect(ended.callId).toBeUndefined();
      const failed = JSON.parse(rx.received.find((r) => r.headers['x-webhook-event'] === 'call.failed')!.body).data;
      expect(failed.metadata).toEqual({ leadId: '7' });
    } finally {
      await rx.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
