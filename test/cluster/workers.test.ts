import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPgBin, type PgCluster, startPgCluster } from '../store/pg-cluster.js';
import { caller, type EngineProc, ROOT, startEngineProc, stopProc, until } from './engine-proc.js';

/**
 * `serve --workers 2` as a real process tree on one throwaway Postgres: both workers serve the one port, a killed
 * worker is replaced while the other worker's call goes on, and SIGTERM drains every worker (a live call keeps
 * going until it ends, then everything exits 0). SQLite with --workers 2 is refused with exit 2.
 */
const hasPg = findPgBin() !== undefined;
// Three engine processes plus Postgres: alone, like the multi-engine test (.ci/run, MULTI_ENGINE_TEST=1).
const run = hasPg && process.env.MULTI_ENGINE_TEST === '1';

function workerPids(out: string, state: 'started' | 'listening' = 'started'): number[] {
  return [...out.matchAll(new RegExp(`worker \\d+ pid (\\d+) ${state}`, 'g'))].map((m) => Number(m[1]));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('serve --workers on SQLite', () => {
  it('refuses N > 1 with exit 2 and says Postgres is required', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 've-workers-sqlite-'));
    try {
      const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'serve', '--workers', '2'], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: '', DATA_DIR: dir, PORT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      proc.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
      expect(code).toBe(2);
      expect(err).toContain('DATABASE_URL=postgres://');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe.skipIf(!run)('serve --workers 2 on Postgres', { timeout: 120_000 }, () => {
  let cluster: PgCluster;
  let db: pg.Client;
  let e: EngineProc;
  let dir = '';
  let astKey = '';

  /** The pid of the worker that carries the call whose carrier id is `sid` (its owner engine's row). */
  const ownerPid = (sid: string) =>
    until(
      async () => {
        const r = await db.query(
          'SELECT e.pid FROM calls c JOIN engines e ON e.id = c.owner_id WHERE c.provider_call_id = $1 AND c.status = $2',
          [sid, 'in-progress'],
        );
        return r.rows[0] ? Number(r.rows[0].pid) : undefined;
      },
      `the owner of ${sid}`,
      900,
    ).catch(async (err: Error) => {
      const rows = await db.query('SELECT provider_call_id, status, owner_id, end_reason FROM calls');
      throw new Error(`${err.message}: ${JSON.stringify(rows.rows)}`);
    });

  beforeAll(async () => {
    cluster = await startPgCluster();
    const url = await cluster.newDatabase();
    db = new pg.Client({ connectionString: url });
    dir = mkdtempSync(path.join(tmpdir(), 've-workers-'));
    e = await startEngineProc(url, dir, { args: ['--workers', '2'], env: { DRAIN_TIMEOUT_MS: '60000' } });
    await db.connect();
    await until(async () => (workerPids(e.output(), 'listening').length === 2 ? true : undefined), 'two workers', 1200);
    const created = await e.api('POST', '/api/v1/assistants', { name: 'Workers', firstMessage: 'Hello.' });
    expect(created.status).toBe(201);
    astKey = created.json.data.assistantApiKey;
  }, 400_000);

  afterAll(async () => {
    if (e) {
      for (const pid of workerPids(e.output())) if (alive(pid)) process.kill(pid, 'SIGKILL');
      await stopProc(e.proc, 'SIGKILL');
    }
    await db?.end().catch(() => {});
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves one port from both workers', async () => {
    // The primary hands connections to the workers in turn: four calls in a row land on both workers.
    const sids = ['CA-w-1', 'CA-w-2', 'CA-w-3', 'CA-w-4'];
    const sims = [];
    const owners: number[] = [];
    try {
      for (const sid of sids) {
        sims.push(await caller(e.base, astKey, sid));
        owners.push(await ownerPid(sid));
      }
      expect(new Set(owners).size).toBe(2);
      expect(owners.every((p) => workerPids(e.output()).includes(p))).toBe(true);
    } finally {
      for (const s of sims) await s.stop();
    }
  });

  it("replaces a killed worker and leaves the other worker's call alone", async () => {
    const sim = await caller(e.base, astKey, 'CA-w-survivor');
    const keeper = await ownerPid('CA-w-survivor');
    const victim = workerPids(e.output()).find((p) => p !== keeper && alive(p))!;
    expect(victim).toBeDefined();
    process.kill(victim, 'SIGKILL');
    const replacement = await until(
      async () => {
        const fresh = workerPids(e.output(), 'listening').filter((p) => p !== victim && p !== keeper && alive(p));
        return fresh[0];
      },
      'a replacement worker listening',
      1200,
    );
    expect(e.output()).toContain(`worker ${victim} exited (SIGKILL); starting a replacement`);
    // The survivor's call is still up and still owned by the survivor, while the port serves new requests.
    expect(sim.closed).toBe(false);
    expect(await ownerPid('CA-w-survivor')).toBe(keeper);
    expect((await fetch(`${e.base}/health`)).status).toBe(200);
    expect(alive(replacement)).toBe(true);
    await sim.stop();
    // The replacement serves the one port (PORT 0 here: the port the first worker got, not a new random one).
    let n = 0;
    await until(
      async () => {
        const sid = `CA-w-after-${++n}`;
        const s = await caller(e.base, astKey, sid);
        const owner = await ownerPid(sid);
        await s.stop();
        return owner === replacement ? true : undefined;
      },
      'a call on the replacement worker',
      20,
    );
    await sim.stop();
  });

  it('drains every worker on SIGTERM: a live call finishes, then all exit 0', async () => {
    const sim = await caller(e.base, astKey, 'CA-w-drain');
    await ownerPid('CA-w-drain');
    const pids = workerPids(e.output()).filter(alive);
    expect(pids).toHaveLength(2);
    const exited = new Promise<number | null>((r) => e.proc.once('exit', (c) => r(c)));
    e.proc.kill('SIGTERM');
    // Draining: /health answers 503 on the workers (a load balancer stops sending) while the call goes on.
    await until(async () => {
      const s = await fetch(`${e.base}/health`).then(
        (r) => r.status,
        () => 0,
      );
      return s === 503 ? true : undefined;
    }, '/health 503 while draining');
    expect(sim.closed).toBe(false);
    expect(e.output()).toContain('SIGTERM: draining 2 workers');
    await sim.stop();
    expect(await exited).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
  });
});
