import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { PhoneSim } from '../../src/call/phone-sim.js';

/**
 * Engine processes for the cluster tests: `voice-engine serve` as a child process (node with tsx as a loader, so a
 * signal reaches the engine itself), its base URL read from its banner, an authenticated JSON API helper; a Twilio
 * caller sending silence; a poller.
 */
export const ROOT = path.resolve(import.meta.dirname, '../..');
export const KEY = 'vek_multi_engine_key_0123456789abcdef';
export const HEARTBEAT_MS = 500;
export const DEAD_AFTER_MS = 5000;
/** The engines' SECRETS_KEY, for a test process that writes sealed fields (plugin credentials) to their database. */
export const SECRETS_KEY = 'multi-engine-test-secrets-key-0123456789abcdef';

export interface EngineProc {
  proc: ChildProcess;
  base: string;
  /** Everything the process printed on stdout so far (under --workers: the supervisor's lines too). */
  output(): string;
  /** Everything it printed on stderr so far (logs at LOG_LEVEL). */
  errors(): string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies asserted field by field
  api(method: string, p: string, body?: unknown): Promise<{ status: number; json: any }>;
}

export async function startEngineProc(
  url: string,
  dataDir: string,
  opts: { args?: string[]; env?: Record<string, string> } = {},
): Promise<EngineProc> {
  // node itself (tsx as a loader, not the tsx wrapper process): SIGKILL must kill the engine, not a parent of it.
  const args = ['--import', 'tsx', 'src/cli/index.ts', 'serve', '--port', '0', ...(opts.args ?? ['--workers', '1'])];
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: url,
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      PORTAL_EMAIL: 'ops@example.com',
      PORTAL_API_KEY: KEY,
      LOG_LEVEL: 'error',
      RATE_LIMIT_PER_MINUTE: '100000',
      ENGINE_HEARTBEAT_MS: String(HEARTBEAT_MS),
      ENGINE_DEAD_AFTER_MS: String(DEAD_AFTER_MS),
      DRAIN_TIMEOUT_MS: '0',
      // Engines sharing one database share its secrets (README, Running many engines): each would otherwise seal
      // assistant keys with its own DATA_DIR/secrets.key, which the other cannot open.
      SECRETS_KEY,
      RECORDING_LINK_SECRET: 'multi-engine-test-recording-link-secret-0123',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  proc.once('exit', (code, signal) => {
    if (signal !== 'SIGKILL' && signal !== 'SIGTERM') process.stderr.write(`engine exited ${code ?? signal}: ${err}\n`);
  });
  let out = '';
  const base = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`engine exited ${code}: ${err}`)));
  });
  return {
    proc,
    base,
    output: () => out,
    errors: () => err,
    async api(method, p, body) {
      const res = await fetch(`${base}${p}`, {
        method,
        headers: { authorization: `Bearer ${KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, json: await res.json() };
    },
  };
}

export function stopProc(p: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill(signal);
  });
}

/** A Twilio caller on `base` sending silence every 20 ms until hung up (by either side). */
export async function caller(base: string, key: string, sid: string): Promise<PhoneSim> {
  const sim = await PhoneSim.connect({
    url: `${base.replace(/^http/, 'ws')}/media/twilio/${key}`,
    protocol: 'twilio',
    callId: sid,
    from: '+15550001111',
    to: '+15550002222',
  });
  const frame = new Uint8Array(160).fill(0xff);
  const t = setInterval(() => (sim.closed ? clearInterval(t) : sim.sendFrame(frame)), 20);
  return sim;
}

export async function until<T>(fn: () => Promise<T | undefined>, what: string, tries = 300): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
