import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MULAW_8K } from '../src/audio/format.js';
import { getGreeting, greetingKey } from '../src/call/greeting.js';
import { PhoneSim } from '../src/call/phone-sim.js';
import { loadConfig } from '../src/config.js';
import { createEngine, type Engine } from '../src/engine.js';
import { silentLogger } from '../src/log.js';
import { verifySignature } from '../src/webhooks/signature.js';

/**
 * The whole engine as a user runs it: real HTTP API, real SQLite file, real media gateway on the same port, a
 * simulated Twilio call over a real WebSocket, webhooks delivered to a loopback receiver.
 */
const EMAIL = 'ops@example.com';
const KEY = 'vek_test_engine_key_0123456789abcdef';

interface Delivery {
  headers: http.IncomingHttpHeaders;
  body: string;
}

describe('engine (composition root)', () => {
  let dir: string;
  let engine: Engine;
  let base: string;
  let receiver: http.Server;
  let receiverUrl: string;
  const deliveries: Delivery[] = [];

  const api = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: (await res.json()) as { status: string; data: Record<string, unknown> } };
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 've-engine-'));
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString('utf8');
      });
      req.on('end', () => {
        deliveries.push({ headers: req.headers, body });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const config = loadConfig({ DATA_DIR: dir, PORTAL_EMAIL: EMAIL, PORTAL_API_KEY: KEY, LOG_LEVEL: 'silent' });
    engine = await createEngine({ config, logger: silentLogger, print: () => {} });
    const { url } = await engine.listen({ port: 0, host: '127.0.0.1' });
    base = url;
  });

  afterAll(async () => {
    await engine?.close();
    await new Promise<void>((r) => receiver.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  it('serves health without auth and refuses the API without a key', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const res = await fetch(`${base}/api/v1/assistants`);
    expect(res.status).toBe(401);
    const body = (await res.json()) as { status: string; error: { code: string } };
    expect(body.status).toBe('error');
    expect(body.error.code).toBe('UNAUTHORIZED');
  });

  it('runs a Twilio call end to end: greeting, DTMF menu, hangup, call record and signed webhooks', async () => {
    const hook = await api('POST', '/api/v1/webhooks', { url: receiverUrl, events: ['call.started', 'call.ended'] });
    expect(hook.status).toBe(201);
    const secret = hook.json.data.secret as string;

    const created = await api('POST', '/api/v1/assistants', {
      name: 'Front desk',
      firstMessage: 'Welcome to Acme.',
      dtmf: {
        menu: {
          '5': { tool: 'send_dtmf', toolArgs: { digits: '1' }, reply: 'Sent.' },
          '9': { reply: 'Goodbye.', hangup: true },
        },
      },
      tools: { builtins: ['end_call', 'send_dtmf'] },
    });
    expect(created.status).toBe(201);
    const astKey = created.json.data.assistantApiKey as string;
    expect(astKey).toMatch(/^ast_/);
    expect(created.json.data.id).toMatch(/^ag_/);

    // Saving the assistant synthesizes its greeting ahead of the first call (fast greeting).
    const key = greetingKey(
      created.json.data.id as string,
      engine.providers.tts(undefined).id,
      undefined,
      MULAW_8K,
      'Welcome to Acme.',
    );
    for (let i = 0; i < 100 && !getGreeting(key); i++) await new Promise((r) => setTimeout(r, 50));
    expect(getGreeting(key)?.length).toBeGreaterThan(0);

    const sim = await PhoneSim.connect({
      url: `${base.replace(/^http/, 'ws')}/media/twilio/${astKey}`,
      protocol: 'twilio',
      from: '+15550001111',
      to: '+15550002222',
    });
    // Caller silence in real time (mu-law 0xFF is digital silence) until the greeting has been heard.
    const silence = new Uint8Array(160).fill(0xff);
    const frames = setInterval(() => {
      if (!sim.closed) sim.sendFrame(silence);
    }, 20);
    try {
      while (sim.firstAgentAudioAt < 0 && !sim.closed) await new Promise((r) => setTimeout(r, 20));
      expect(sim.firstAgentAudioAt).toBeGreaterThanOrEqual(0);
      sim.sendDtmf('5');
      // The menu's tool call lands as a tool event (and its analytics row) before the caller hangs up.
      for (let i = 0; i < 200; i++) {
        const rows = (await api('GET', '/api/v1/account/analytics/tool-responses')).json.data.rows as unknown[];
        if (rows.length > 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      sim.sendDtmf('9');
      const closed = await sim.whenClosed;
      expect(closed.code).toBeGreaterThanOrEqual(1000);
    } finally {
      clearInterval(frames);
    }

    // The call record was written as the call went; wait for the session's post-call work to land.
    let record: Record<string, unknown> | undefined;
    for (let i = 0; i < 100; i++) {
      const list = await api('GET', '/api/v1/calls');
      const rows = (list.json.data.rows ?? list.json.data) as Array<Record<string, unknown>>;
      record = rows[0];
      if (record && record.status === 'completed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(record?.status).toBe('completed');
    const full = await api('GET', `/api/v1/calls/${record!.id as string}`);
    const call = full.json.data as { transcript: Array<{ text?: string }>; dtmf: Array<{ digit?: string }> };
    expect(call.transcript.map((t) => t.text).join(' ')).toContain('Welcome to Acme');
    expect(call.dtmf.map((d) => d.digit)).toContain('9');

    // Analytics: one tool-responses row per tool call, one pre-call row per decision (the call limit let it in).
    const tools = (await api('GET', '/api/v1/account/analytics/tool-responses')).json.data.rows as unknown[];
    expect(tools).toEqual([
      expect.objectContaining({
        call_id: record!.id,
        tool: 'send_dtmf',
        status: 'ok',
        source: 'dtmf',
        size_bytes: expect.any(Number),
        latency_ms: expect.any(Number),
      }),
    ]);
    const pre = (await api('GET', '/api/v1/account/analytics/pre-call')).json.data.rows as unknown[];
    expect(pre).toContainEqual(
      expect.objectContaining({
        direction: 'inbound',
        check: 'call_limit',
        decision: 'allowed',
        number: '+15550001111',
      }),
    );

    // Both webhooks arrive, signed with the endpoint's secret.
    for (let i = 0; i < 100 && deliveries.length < 2; i++) {
      await engine.webhooks.flush();
      await new Promise((r) => setTimeout(r, 100));
    }
    const events = deliveries.map((d) => d.headers['x-webhook-event']);
    expect(events).toContain('call.started');
    expect(events).toContain('call.ended');
    for (const d of deliveries) {
      const ok = verifySignature(secret, d.body, String(d.headers['x-webhook-signature']));
      expect(ok).toBe(true);
    }
  });

  it('closes a media stream with a wrong assistant key with 4003', async () => {
    const sim = await PhoneSim.connect({
      url: `${base.replace(/^http/, 'ws')}/media/twilio/ast_nope`,
      protocol: 'twilio',
    });
    const closed = await sim.whenClosed;
    expect(closed.code).toBe(4003);
  });

  it('refuses the assistant id (ag_…) as a media credential; the key (ast_…) opens the stream', async () => {
    const created = await api('POST', '/api/v1/assistants', { prompt: 'x' });
    const { id, assistantApiKey } = created.json.data as { id: string; assistantApiKey: string };
    const ws = base.replace(/^http/, 'ws');
    const byId = await PhoneSim.connect({ url: `${ws}/media/twilio/${id}`, protocol: 'twilio' });
    expect(await byId.whenClosed).toMatchObject({ code: 4003, reason: 'assistant key wrong or revoked' });
    const byKey = await PhoneSim.connect({ url: `${ws}/media/twilio/${assistantApiKey}`, protocol: 'twilio' });
    await expect.poll(() => engine.gateway.activeCalls).toBe(1);
    await byKey.stop();
  });
});
