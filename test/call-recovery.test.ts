import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulawDecode } from '../src/audio/g711.js';
import { readWav } from '../src/audio/wav.js';
import { PhoneSim } from '../src/call/phone-sim.js';
import { ENGINE_RESTART } from '../src/cluster/presence.js';
import { WEBHOOK_EVENT_SCHEMAS } from '../src/webhooks/events.js';
import { type EngineHarness, PORTAL_KEY, startEngine } from './engine-harness.js';

/**
 * Issue 11, finding 3: an engine killed with SIGKILL mid-call, then restarted on the same DATA_DIR. The call is
 * closed failed at start (reason engine_restart: the embedded store has one engine at a time, so nothing waits for
 * the old heartbeat to go stale), call.failed goes out through the outbox, the recording keeps the audio streamed
 * before the crash under a valid header, and a tenant limited to one concurrent call can call again.
 */
const ENV = {
  PORTAL_EMAIL: 'ops@example.com',
  PORTAL_API_KEY: PORTAL_KEY,
  LOG_LEVEL: 'silent',
  RATE_LIMIT_PER_MINUTE: '100000',
};
const FILL = 0xe0;

async function startChild(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/crash-engine-child.ts'], {
    env: { ...process.env, ...ENV, DATA_DIR: dir },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const first = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`engine child exited (${code}) before listening`)));
  });
  return { child, url: (JSON.parse(first) as { url: string }).url };
}

describe('crash recovery', () => {
  let dir: string;
  let receiver: http.Server;
  let hookUrl: string;
  const deliveries: { event: string; body: Record<string, unknown> }[] = [];
  let child: ChildProcess | undefined;
  let e: EngineHarness | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 've-crash-'));
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString('utf8');
      });
      req.on('end', () => {
        deliveries.push({ event: String(req.headers['x-webhook-event']), body: JSON.parse(body) });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  });

  afterAll(async () => {
    child?.kill('SIGKILL');
    await e?.close();
    await new Promise<void>((r) => receiver.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  it('closes a call left in progress by a killed engine, finalizes its recording and frees the slot', async () => {
    const started = await startChild(dir);
    child = started.child;
    const api = async (method: string, p: string, body?: unknown) => {
      const res = await fetch(`${started.url}${p}`, {
        method,
        headers: { authorization: `Bearer ${PORTAL_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      // biome-ignore lint/suspicious/noExplicitAny: JSON bodies asserted field by field
      return (await res.json()) as any;
    };
    expect((await api('PUT', '/api/v1/account/call-limits', { maxConcurrent: 1 })).status).toBe('success');
    expect(
      (await api('POST', '/api/v1/webhooks', { url: hookUrl, events: ['call.failed', 'call.ended'] })).status,
    ).toBe('success');
    const ast = (await api('POST', '/api/v1/assistants', { name: 'crash' })).data;

    const sim = await PhoneSim.connect({
      url: `${started.url.replace(/^http/, 'ws')}/media/twilio/${ast.assistantApiKey}`,
      protocol: 'twilio',
      callId: 'CAcrash000000000000000000000000000',
    });
    // 14 s of caller audio at 2.5x real time (under the gateway's 200 messages/s flood limit): the recorder writes
    // its first 10 s block to disk once the caller is 2 s past it.
    const frame = new Uint8Array(160).fill(FILL);
    for (let i = 0; i < 700; i++) {
      sim.sendFrame(frame);
      if (i % 5 === 4) await new Promise((r) => setTimeout(r, 40));
    }
    const calls = (await api('GET', '/api/v1/calls')).data;
    const rows = calls.rows ?? calls;
    expect(rows).toHaveLength(1);
    const call = rows[0];
    expect(call.status, call.endReason).toBe('in-progress');
    const tenantDir = fs.readdirSync(path.join(dir, 'recordings'))[0]!;
    const file = path.join(dir, 'recordings', tenantDir, `${call.id}.wav`);
    const BLOCK = 10 * 8000 * 4;
    for (let i = 0; i < 200 && !(fs.existsSync(file) && fs.statSync(file).size >= 44 + BLOCK); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(fs.statSync(file).size).toBeGreaterThanOrEqual(44 + BLOCK);
    // Before the crash the header says "still streaming".
    expect(fs.readFileSync(file).readUInt32LE(40)).toBe(0xffffffff);

    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    child = undefined;

    // Restarted with the default presence timing (15 s to call an engine dead): the orphan is closed at start anyway.
    e = await startEngine(ENV, dir);
    const after = (await e.api('GET', `/api/v1/calls/${call.id}`)).json.data;
    expect(after.status).toBe('failed');
    expect(after.endReason).toBe(ENGINE_RESTART);
    expect(after.recordingUrl).toBe(`/api/v1/calls/${call.id}/recording`);

    // call.failed leaves through the outbox.
    for (let i = 0; i < 100 && !deliveries.some((d) => d.event === 'call.failed'); i++) {
      await e.engine.webhooks.flush();
      await new Promise((r) => setTimeout(r, 50));
    }
    const failed = deliveries.find((d) => d.event === 'call.failed');
    const data = failed?.body.data as Record<string, unknown>;
    expect(data).toMatchObject({ call_id: call.id, reason: ENGINE_RESTART, end_reason: ENGINE_RESTART });
    expect(Value.Check(WEBHOOK_EVENT_SCHEMAS['call.failed'], data)).toBe(true);

    // The recording: a valid header for what was on disk, and the caller's audio in it.
    const rec = await e.bytes(`/api/v1/calls/${call.id}/recording`);
    expect(rec.status).toBe(200);
    expect(rec.body.readUInt32LE(4)).toBe(rec.body.length - 8);
    expect(rec.body.readUInt32LE(40)).toBe(rec.body.length - 44);
    const wav = readWav(rec.body);
    expect(wav.channels).toBe(2);
    expect(wav.samples.length).toBeGreaterThanOrEqual(10 * 8000);
    const expected = mulawDecode(new Uint8Array([FILL]), new Int16Array(1))[0];
    expect(wav.samples.filter((v) => v === expected).length / wav.samples.length).toBeGreaterThan(0.95);

    // The slot is free: with maxConcurrent 1 the tenant can call again, and that call completes.
    await e.twilioCall(ast.assistantApiKey, 'CAagain00000000000000000000000000', 600);
    const all = await e.settledCalls();
    expect(all).toHaveLength(2);
    expect(all[0].status).toBe('completed');
  }, 90_000);
});

describe('every call path closes its record', () => {
  let e: EngineHarness;

  beforeAll(async () => {
    e = await startEngine();
  });

  afterAll(async () => {
    await e.close();
  });

  it('an echo-mode call ends completed / echo_ended with call.ended, and frees its slot', async () => {
    await e.api('PUT', '/api/v1/account/call-limits', { maxConcurrent: 1 });
    const ast = (await e.api('POST', '/api/v1/assistants', { name: 'echo', mode: 'echo' })).json.data;
    await e.twilioCall(ast.assistantApiKey, 'CAecho000000000000000000000000000', 400);
    await e.twilioCall(ast.assistantApiKey, 'CAecho000000000000000000000000000', 400);
    const calls = await e.settledCalls();
    expect(calls).toHaveLength(2);
    for (const c of calls) {
      expect(c.status).toBe('completed');
      expect(c.endReason).toBe('echo_ended');
    }
  });
});
