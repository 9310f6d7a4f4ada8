/**
 * GET /api/v1/events (the console's live stream) through the whole engine: authenticated like every business
 * route, a snapshot first, then the tenant's own call events only; another tenant's stream sees nothing of it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhoneSim } from '../../src/call/phone-sim.js';
import { loadConfig } from '../../src/config.js';
import { createEngine, type Engine } from '../../src/engine.js';
import { silentLogger } from '../../src/log.js';

const A = { email: 'a@example.com', key: 'vek_events_tenant_a_0123456789abcdef' };

interface Sse {
  events: Array<{ type: string; data: Record<string, unknown> }>;
  close(): void;
}

async function subscribe(base: string, headers: Record<string, string>): Promise<Sse | number> {
  const ctrl = new AbortController();
  const res = await fetch(`${base}/api/v1/events`, { headers, signal: ctrl.signal });
  if (res.status !== 200 || !res.body) return res.status;
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const events: Sse['events'] = [];
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += value;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type && data) events.push({ type, data: JSON.parse(data) as Record<string, unknown> });
        }
      }
    } catch {
      // aborted
    }
  })();
  return { events, close: () => ctrl.abort() };
}

describe('live events stream', () => {
  let dir: string;
  let engine: Engine;
  let base: string;
  let keyB: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 've-events-'));
    const config = loadConfig({
      DATA_DIR: dir,
      PORTAL_EMAIL: A.email,
      PORTAL_API_KEY: A.key,
      ADMIN_API_KEY: 'admin_events_test_key_0123456789',
      LOG_LEVEL: 'silent',
    });
    engine = await createEngine({ config, logger: silentLogger, print: () => {} });
    base = (await engine.listen({ port: 0, host: '127.0.0.1' })).url;
    const res = await fetch(`${base}/api/v1/admin/tenants`, {
      method: 'POST',
      headers: { authorization: 'Bearer admin_events_test_key_0123456789', 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'b@example.com' }),
    });
    const body = (await res.json()) as { data: Record<string, unknown> };
    keyB = String(body.data.portalApiKey ?? (body.data.key as { secret?: string })?.secret ?? '');
    expect(keyB).toMatch(/^vek_/);
  });

  afterAll(async () => {
    await engine?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a stream without credentials', async () => {
    expect(await subscribe(base, {})).toBe(401);
  });

  it("streams a tenant's own call and none of it to another tenant", async () => {
    const a = await subscribe(base, { 'x-client-email': A.email, 'x-portal-api-key': A.key });
    const b = await subscribe(base, { authorization: `Bearer ${keyB}` });
    if (typeof a === 'number' || typeof b === 'number') throw new Error(`stream refused: ${a} ${b}`);
    try {
      const created = await fetch(`${base}/api/v1/assistants`, {
        method: 'POST',
        headers: { authorization: `Bearer ${A.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ firstMessage: 'Hi there.', dtmf: { menu: { '9': { reply: 'Bye.', hangup: true } } } }),
      });
      const astKey = ((await created.json()) as { data: { assistantApiKey: string } }).data.assistantApiKey;
      const sim = await PhoneSim.connect({
        url: `${base.replace(/^http/, 'ws')}/media/twilio/${astKey}`,
        protocol: 'twilio',
      });
      const silence = new Uint8Array(160).fill(0xff);
      const t = setInterval(() => {
        if (!sim.closed) sim.sendFrame(silence);
      }, 20);
      try {
        while (sim.firstAgentAudioAt < 0 && !sim.closed) await new Promise((r) => setTimeout(r, 20));
        // In progress: a new subscriber's snapshot lists the call.
        const late = await subscribe(base, { authorization: `Bearer ${A.key}` });
        if (typeof late === 'number') throw new Error('late stream refused');
        for (let i = 0; i < 50 && !late.events.length; i++) await new Promise((r) => setTimeout(r, 20));
        expect(late.events[0]?.type).toBe('snapshot');
        expect(late.events[0]?.data.calls).toHaveLength(1);
        late.close();
        sim.sendDtmf('9');
        await sim.whenClosed;
      } finally {
        clearInterval(t);
      }
      for (let i = 0; i < 100 && !a.events.some((e) => e.type === 'call.ended'); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const types = a.events.map((e) => e.type);
      expect(types[0]).toBe('snapshot');
      expect(types).toContain('call.started');
      expect(types).toContain('transcript');
      expect(types).toContain('state');
      expect(types).toContain('call.ended');
      const callId = a.events.find((e) => e.type === 'call.started')?.data.callId;
      expect(callId).toMatch(/^c_/);
      // Tenant B saw its own (empty) snapshot and nothing else.
      expect(b.events.map((e) => e.type)).toEqual(['snapshot']);
      expect(JSON.stringify(b.events)).not.toContain(String(callId));
    } finally {
      a.close();
      b.close();
    }
  });
});
