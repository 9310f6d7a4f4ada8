import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PhoneSim } from '../src/call/phone-sim.js';
import { loadConfig } from '../src/config.js';
import { createEngine, type Engine } from '../src/engine.js';
import { silentLogger } from '../src/log.js';

/** The whole engine on a temp DATA_DIR, listening on 127.0.0.1:0, for tests that need a real call end to end. */
export interface EngineHarness {
  engine: Engine;
  base: string;
  dir: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, asserted field by field in the tests
  api(method: string, p: string, body?: unknown, key?: string): Promise<{ status: number; json: any }>;
  /** GET with the key, the body as bytes (a recording). */
  bytes(p: string, key?: string): Promise<{ status: number; body: Buffer }>;
  /**
   * A Twilio call on the assistant key with `callSid`: `ms` of caller audio, every mu-law byte `fill` (0xff is
   * digital silence), then the caller hangs up.
   */
  twilioCall(assistantKey: string, callSid: string, ms: number, fill?: number): Promise<void>;
  /** A tenant with its own portal key (created in the store). */
  tenant(email: string): Promise<{ id: string; key: string }>;
  /** The tenant's calls (newest first) once none of them is in progress any more. */
  // biome-ignore lint/suspicious/noExplicitAny: call records asserted field by field in the tests
  settledCalls(key?: string): Promise<any[]>;
  close(): Promise<void>;
}

/** Polls `probe` (every 50 ms, up to 30 s) until it answers something other than undefined. */
export async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export const PORTAL_KEY = 'vek_test_engine_key_0123456789abcdef';

export async function startEngine(
  env: Record<string, string> = {},
  dir?: string,
  opts: { heartbeatMs?: number; deadAfterMs?: number } = {},
): Promise<EngineHarness> {
  const dataDir = dir ?? (await mkdtemp(path.join(os.tmpdir(), 've-engine-')));
  const config = loadConfig({
    DATA_DIR: dataDir,
    PORTAL_EMAIL: 'ops@example.com',
    PORTAL_API_KEY: PORTAL_KEY,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_MINUTE: '100000',
    ...env,
  });
  const engine = await createEngine({ config, logger: silentLogger, print: () => {}, ...opts });
  const { url: base } = await engine.listen({ port: 0, host: '127.0.0.1' });
  const h: EngineHarness = {
    engine,
    base,
    dir: dataDir,
    async api(method, p, body, key = PORTAL_KEY) {
      const res = await fetch(`${base}${p}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      let json: unknown = text;
      try {
        json = JSON.parse(text);
      } catch {
        // binary (a recording)
      }
      return { status: res.status, json };
    },
    async bytes(p, key = PORTAL_KEY) {
      const res = await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${key}` } });
      return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
    },
    async tenant(email) {
      const t = await engine.store.tenants.create({ email });
      const { secret } = await engine.store.apiKeys.create(t.id);
      return { id: t.id, key: secret };
    },
    async twilioCall(assistantKey, callSid, ms, fill = 0xff) {
      const sim = await PhoneSim.connect({
        url: `${base.replace(/^http/, 'ws')}/media/twilio/${assistantKey}`,
        protocol: 'twilio',
        callId: callSid,
        from: '+15550001111',
        to: '+15550002222',
      });
      // A fixed number of 20 ms frames, paced in real time (a loaded machine stretches the call, never shortens it).
      const audio = new Uint8Array(160).fill(fill);
      let left = Math.round(ms / 20);
      await new Promise<void>((done) => {
        const frames = setInterval(() => {
          if (!sim.closed && left-- > 0) sim.sendFrame(audio);
          else {
            clearInterval(frames);
            done();
          }
        }, 20);
      });
      // The last frames reach the session before the stop does (one socket, in order).
      await sim.stop();
    },
    async settledCalls(key = PORTAL_KEY) {
      let rows: { status: string }[] = [];
      for (let i = 0; i < 100; i++) {
        const list = await h.api('GET', '/api/v1/calls', undefined, key);
        rows = list.json.data.rows ?? list.json.data;
        if (rows.length > 0 && rows.every((c) => c.status === 'completed' || c.status === 'failed')) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      return rows;
    },
    async close() {
      await engine.close();
      if (!dir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return h;
}
