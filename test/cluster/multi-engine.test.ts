import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPgBin, type PgCluster, startPgCluster } from '../store/pg-cluster.js';
import { startReceiver } from '../webhooks/receiver.js';
import { caller, type EngineProc, startEngineProc, stopProc, until } from './engine-proc.js';

/**
 * Two real engine processes (`voice-engine serve`, child processes) on one throwaway Postgres: what one engine's API
 * does reaches calls on the other, limits hold across both, each webhook is sent once, a killed engine's calls are
 * closed by the survivor, and a Postgres restart during a call loses nothing.
 */
const hasPg = findPgBin() !== undefined;
// Four processes (two engines, Postgres, the callers) time out when run beside the whole parallel suite on a
// 2-core machine: .ci/run runs this file on its own after `npm test` (MULTI_ENGINE_TEST=1).
const run = hasPg && process.env.MULTI_ENGINE_TEST === '1';

describe.skipIf(!run)('two engine processes on one Postgres', { timeout: 120_000 }, () => {
  let cluster: PgCluster;
  let a: EngineProc;
  let b: EngineProc;
  const dirs: string[] = [];
  let astKey = '';

  const liveCall = (e: EngineProc, sid: string) =>
    until(async () => {
      const r = await e.api('GET', '/api/v1/calls?status=in-progress');
      return (r.json.data.rows as Array<{ id: string; providerCallId?: string }>).find((c) => c.providerCallId === sid);
    }, `call ${sid} in progress`);
  const callById = async (e: EngineProc, id: string) => (await e.api('GET', `/api/v1/calls/${id}`)).json.data;

  beforeAll(async () => {
    cluster = await startPgCluster();
    const url = await cluster.newDatabase();
    for (let i = 0; i < 2; i++) dirs.push(mkdtempSync(path.join(tmpdir(), 've-multi-')));
    // One after the other: the first migrates and creates the tenant; the second finds both.
    a = await startEngineProc(url, dirs[0]!);
    b = await startEngineProc(url, dirs[1]!);
    const created = await a.api('POST', '/api/v1/assistants', { name: 'Shared', firstMessage: 'Hello.' });
    expect(created.status).toBe(201);
    astKey = created.json.data.assistantApiKey;
  }, 400_000);

  afterAll(async () => {
    await Promise.all([a && stopProc(a.proc, 'SIGKILL'), b && stopProc(b.proc, 'SIGKILL')]);
    await cluster?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('hangs up a call on A through an API request to B, recorded as ended by the API', async () => {
    const rx = await startReceiver();
    try {
      const ep = await a.api('POST', '/api/v1/webhooks', { url: rx.url, events: ['call.ended'] });
      const sim = await caller(a.base, astKey, 'CA-hangup');
      const call = await liveCall(b, 'CA-hangup');
      const r = await b.api('POST', `/api/v1/calls/${call.id}/hangup`, { reason: 'supervisor' });
      expect(JSON.stringify(r.json)).toContain('requested');
      expect(r.status).toBe(202);
      expect(r.json.data.status).toBe('requested');
      await sim.whenClosed;
      const done = await until(async () => {
        const c = await callById(b, call.id);
        return c.status === 'completed' || c.status === 'failed' ? c : undefined;
      }, 'call record closed');
      expect(done.status).toBe('completed');
      expect(done.endReason).toBe('api: supervisor');
      const hook = await until(
        async () => rx.received.find((x) => x.body.includes('CA-hangup')),
        'the call.ended webhook',
      );
      expect(hook.body).toContain('"ended_by":"api"');
      expect(hook.body).toContain('"end_reason":"api: supervisor"');
      await a.api('DELETE', `/api/v1/webhooks/${ep.json.data.id}`);
    } finally {
      await rx.close();
    }
  });

  it('a runtime PATCH on B reaches a live call on A (through the control channel)', async () => {
    const sim = await caller(a.base, astKey, 'CA-patch');
    const call = await liveCall(b, 'CA-patch');
    // Before the PATCH, '9' is only a collected digit; after it, a menu key that hangs up at once.
    const r = await b.api('PATCH', `/api/v1/assistants/${astKey}/runtime/dtmf`, { menu: { '9': { hangup: true } } });
    expect(r.status).toBe(200);
    await until(
      async () => {
        if (sim.closed) return true;
        // '#' ends any collection first, so that '9' is a first key (where a menu key acts).
        sim.sendDtmf('#');
        sim.sendDtmf('9');
        await new Promise((res) => setTimeout(res, 400));
        return sim.closed ? true : undefined;
      },
      'the call on A hung up by the menu key B configured',
      60,
    );
    const done = await until(async () => {
      const c = await callById(b, call.id);
      return c.status === 'completed' || c.status === 'failed' ? c : undefined;
    }, 'call record closed');
    expect(done.status).toBe('completed');
    expect(done.endReason).not.toBe('caller_hangup');
    await b.api('PATCH', `/api/v1/assistants/${astKey}/runtime/dtmf`, { menu: {} });
  });

  it('holds a concurrent limit of 1 across both engines', async () => {
    expect((await b.api('PUT', '/api/v1/account/call-limits', { maxConcurrent: 1 })).status).toBe(200);
    const first = await caller(a.base, astKey, 'CA-limit-1');
    await liveCall(a, 'CA-limit-1');
    const second = await caller(b.base, astKey, 'CA-limit-2');
    const closed = await second.whenClosed;
    expect(`${closed.code} ${closed.reason}`).toMatch(/^4030 /);
    expect(closed.reason).toMatch(/Concurrent call limit/);
    await first.stop();
    expect((await a.api('PUT', '/api/v1/account/call-limits', {})).status).toBe(200);
  });

  it('sends one webhook event once, though both engines run the outbox', async () => {
    const rx = await startReceiver();
    try {
      const ep = await a.api('POST', '/api/v1/webhooks', { url: rx.url, events: ['call.ended', 'call.failed'] });
      expect(ep.status).toBe(201);
      // Webhook payloads name the call by the carrier's id (call_id) here: match on it.
      const sid = 'CA-webhook';
      const sim = await caller(b.base, astKey, sid);
      await liveCall(a, sid);
      await sim.stop();
      await until(async () => (rx.received.some((x) => x.body.includes(sid)) ? true : undefined), 'the webhook').catch(
        (e: Error) => {
          throw new Error(`${e.message}: ${rx.received.map((x) => x.body.slice(0, 200)).join(' | ')}`);
        },
      );
      // Both dispatchers poll the outbox (1 s) several times over: a duplicate would have arrived by now.
      await new Promise((r) => setTimeout(r, 3000));
      const mine = rx.received.filter((x) => x.body.includes(sid));
      expect(mine).toHaveLength(1);
      await a.api('DELETE', `/api/v1/webhooks/${ep.json.data.id}`);
    } finally {
      await rx.close();
    }
  });

  it('loses no call record and no webhook when Postgres restarts during a call', async () => {
    const rx = await startReceiver();
    try {
      const ep = await b.api('POST', '/api/v1/webhooks', { url: rx.url, events: ['call.ended'] });
      const sid = 'CA-restart';
      const sim = await caller(b.base, astKey, sid);
      const call = await liveCall(a, sid);
      await cluster.restart();
      await new Promise((r) => setTimeout(r, 300));
      await sim.stop();
      let last = '';
      const done = await until(
        async () => {
          const c = await callById(a, call.id).catch(() => undefined);
          last = JSON.stringify(c ?? null).slice(0, 300);
          return c?.status === 'completed' || c?.status === 'failed' ? c : undefined;
        },
        'call closed after the restart',
        900,
      ).catch((e: Error) => {
        throw new Error(`${e.message}: ${last}`);
      });
      expect(done.status).toBe('completed');
      await until(async () => (rx.received.some((x) => x.body.includes(sid)) ? true : undefined), 'the webhook');
      expect(rx.received.filter((x) => x.body.includes(sid))).toHaveLength(1);
      await b.api('DELETE', `/api/v1/webhooks/${ep.json.data.id}`);
    } finally {
      await rx.close();
    }
  });

  it("closes a killed engine's calls from the other within the heartbeat timeout", async () => {
    const sim = await caller(a.base, astKey, 'CA-kill');
    const call = await liveCall(b, 'CA-kill');
    await stopProc(a.proc, 'SIGKILL');
    // until() gives up after ~30 s: several times ENGINE_DEAD_AFTER_MS, so a loaded machine does not fail it.
    const closed = await until(
      async () => {
        const c = await callById(b, call.id);
        return c.status === 'failed' ? c : undefined;
      },
      'the dead engine call closed by B',
      600,
    );
    expect(closed.endReason).toBe('engine_lost');
    await sim.whenClosed;
  });
});
