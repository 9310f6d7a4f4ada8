/**
 * `voice-engine bench load --workers N [--ramp 500,1000,2000] [--duration S]` (N defaults to the number of cores):
 * the engine as it is deployed, `voice-engine serve --workers N` in its own process tree on the shared store, and
 * media-only calls (`mode: echo` assistant created through the API) from the load client in a separate process.
 *
 * N > 1 needs Postgres: DATABASE_URL when set, else a throwaway cluster this bench starts (bench/pg-cluster.ts,
 * initdb + pg_ctl in a temp dir) and stops; the output says which. The account is configured honestly and printed:
 * every call comes from 127.0.0.1, so MEDIA_MAX_PENDING_PER_IP is raised to the calls; call limits stay unset.
 *
 * Lag here is each worker's pacer lag (the lateness of every tick of its shared 10 ms pacing clock, which is what a
 * blocked event loop shows), read from each worker's own /metrics (series labelled `worker`, scraped over fresh
 * connections until every worker has answered) before and after the streaming window, and merged: the histograms'
 * bucket counts are summed, so p99 is the smallest bucket bound holding 99% of all ticks of all workers. Dropped
 * frames: the workers' outbound drops plus frames sent that never came back. calls per core = the largest N that
 * passed (p99 <= 20 ms, 0 dropped, 0 failed) / workers, with the client on the same machine.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, EXIT, flagNumber, flagString } from '../src/cli/args.js';
import type { BenchContext } from '../src/cli/bench.js';
import { COST_COLUMNS, type CpuCost, callSeconds, costLine, cpuCost, goalArithmetic } from './load-cost.js';
import {
  arrivalsFlag,
  type CallsOutcome,
  type ClientResult,
  childExit,
  clientPath,
  failureNote,
  outcome,
  request,
} from './load-ipc.js';
import { type PgCluster, startPgCluster } from './pg-cluster.js';
import { columnsOf, round } from './stats.js';

/** One worker's counters from its /metrics. */
interface WorkerSample {
  buckets: Map<number, number>; // le -> cumulative count (le Infinity included)
  count: number;
  dropped: number;
  cpuS: number;
  cpuUserS: number;
  cpuSystemS: number;
  framesIn: number;
  /** When this worker answered (ms, performance.now()): CPU % is per worker over its own interval. */
  at: number;
}

export interface WorkersRun extends CallsOutcome, CpuCost {
  calls: number;
  workers: number;
  duration_s: number;
  /** Bucket bounds (ms); null: over the last bucket (250 ms). */
  pacer_lag_ms: {
    p50: number | null;
    p99: number | null;
    max_bucket: number | null;
    ticks: number;
    histogram: Record<string, number>;
  };
  per_worker_pacer_lag_p99_ms: Record<string, number | null>;
  jitter_ms_p99: number;
  engine_cpu_pct: number;
  client_cpu_pct: number;
  client_send_late_ms_p99: number;
  loadavg_1m: [number, number];
}

const KEY = `vek_bench_${randomBytes(12).toString('hex')}`;

/** The CLI entry next to this bench (dist: .js; under tsx: .ts with tsx as a loader). */
function cliArgs(): string[] {
  const self = fileURLToPath(import.meta.url);
  const ext = path.extname(self);
  const cli = path.join(path.dirname(self), '..', 'src', 'cli', `index${ext}`);
  return ext === '.ts' ? ['--import', 'tsx', cli] : [cli];
}

interface Engine {
  proc: ChildProcess;
  base: string;
  stop(): Promise<void>;
}

async function startEngine(workers: number, databaseUrl: string, maxCalls: number): Promise<Engine> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 've-bench-workers-'));
  const proc = spawn(process.execPath, [...cliArgs(), 'serve', '--port', '0', '--workers', String(workers)], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      PORTAL_EMAIL: 'bench@example.com',
      PORTAL_API_KEY: KEY,
      LOG_LEVEL: 'error',
      MEDIA_MAX_PENDING_PER_IP: String(Math.max(20, maxCalls)),
      SECRETS_KEY: randomBytes(24).toString('hex'),
      RECORDING_LINK_SECRET: randomBytes(24).toString('hex'),
      DRAIN_TIMEOUT_MS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    process.stderr.write(d);
  });
  // A worker that dies mid-run is replaced by the supervisor: say so, it explains failed calls.
  proc.stdout!.on('data', (d: Buffer) => {
    for (const l of d.toString().split('\n')) if (/exited|replacement/.test(l)) process.stderr.write(`engine: ${l}\n`);
  });
  const base = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /listening on (http:\/\/[\d.]+:\d+)/.exec(out)?.[1];
      const up = out.match(/worker \d+ pid \d+ listening/g)?.length ?? 0;
      // One worker runs without a supervisor (serve --workers 1): no per-worker lines then.
      if (url && (workers === 1 || up >= workers)) resolve(url);
    });
    proc.once('exit', (code) => reject(new Error(`serve --workers ${workers} exited with ${code}: ${err}`)));
  });
  return {
    proc,
    base,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        await new Promise<void>((r) => {
          proc.once('exit', () => r());
          proc.kill('SIGTERM');
        });
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function api<T>(base: string, method: string, p: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}${p}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** GET /metrics over a fresh connection (so the supervisor hands it to the next worker, round-robin). */
function scrapeOnce(base: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(`${base}/metrics`, { agent: false, headers: { connection: 'close' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

const LINE = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/;

function parseWorker(text: string): [string, WorkerSample] | undefined {
  let worker: string | undefined;
  const s: WorkerSample = {
    buckets: new Map(),
    count: 0,
    dropped: 0,
    cpuS: 0,
    cpuUserS: 0,
    cpuSystemS: 0,
    framesIn: 0,
    at: performance.now(),
  };
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, name, labelText, value] = m;
    const labels = labelText ?? '';
    const w = /worker="([^"]*)"/.exec(labels)?.[1];
    if (w) worker = w;
    const v = Number(value);
    if (name === 'voice_engine_pacer_lag_ms_bucket') {
      const le = /le="([^"]*)"/.exec(labels)?.[1];
      if (le) s.buckets.set(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), v);
    } else if (name === 'voice_engine_pacer_lag_ms_count') s.count = v;
    else if (name === 'voice_engine_media_frames_dropped_total') s.dropped = v;
    else if (name === 'process_cpu_seconds_total') s.cpuS = v;
    else if (name === 'process_cpu_user_seconds_total') s.cpuUserS = v;
    else if (name === 'process_cpu_system_seconds_total') s.cpuSystemS = v;
    else if (name === 'voice_engine_media_frames_in_total') s.framesIn = v;
  }
  // A single process (serve --workers 1) labels nothing: it is worker 1.
  return s.buckets.size === 0 ? undefined : [worker ?? '1', s];
}

/** Every worker's sample: scrapes until each of the `workers` has answered (round-robin: a few rounds at most). */
async function scrapeAll(base: string, workers: number): Promise<Map<string, WorkerSample>> {
  const seen = new Map<string, WorkerSample>();
  for (let i = 0; i < workers * 20 && seen.size < workers; i++) {
    const w = parseWorker(await scrapeOnce(base));
    if (w && !seen.has(w[0])) seen.set(w[0], w[1]);
  }
  if (seen.size < workers) throw new Error(`only ${seen.size} of ${workers} workers answered /metrics`);
  return seen;
}

/**
 * The smallest bucket bound holding fraction q of the ticks (bucket counts cumulative, as Prometheus gives them);
 * null when only the +Inf bucket does (over 250 ms).
 */
function quantileBound(buckets: Map<number, number>, total: number, q: number): number | null {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  for (const le of bounds) if (buckets.get(le)! >= q * total) return Number.isFinite(le) ? le : null;
  return null;
}

/** `<=N` for a bucket bound, `>250` past the last one. */
const shown = (bound: number | null): string => (bound === null ? '>250' : `<=${bound}`);

function delta(a: WorkerSample | undefined, b: WorkerSample): WorkerSample {
  const buckets = new Map<number, number>();
  for (const [le, n] of b.buckets) buckets.set(le, n - (a?.buckets.get(le) ?? 0));
  return {
    buckets,
    count: b.count - (a?.count ?? 0),
    dropped: b.dropped - (a?.dropped ?? 0),
    cpuS: b.cpuS - (a?.cpuS ?? 0),
    cpuUserS: b.cpuUserS - (a?.cpuUserS ?? 0),
    cpuSystemS: b.cpuSystemS - (a?.cpuSystemS ?? 0),
    framesIn: b.framesIn - (a?.framesIn ?? 0),
    at: b.at - (a?.at ?? b.at),
  };
}

async function runOnce(
  engine: Engine,
  key: string,
  workers: number,
  calls: number,
  durationS: number,
  arrivalsPerS: number,
  progress: (l: string) => void,
): Promise<WorkersRun> {
  const child = fork(clientPath(), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = Number(new URL(engine.base).port);
  progress(`load: ${calls} calls x ${durationS} s on serve --workers ${workers} (client pid ${child.pid})`);
  const load0 = os.loadavg()[0]!;
  // Sampled over the steady state only: from 1 s into the streaming (calls set up, JIT warm) to the last frame sent
  // (before the hang-ups), as the in-process bench skips each call's first second.
  let before: Promise<Map<string, WorkerSample>> | undefined;
  let after: Promise<Map<string, WorkerSample>> | undefined;
  const sample = () => scrapeAll(engine.base, workers);
  child.on('message', (m: { type: string }) => {
    if (m.type === 'steady') before = sample();
    else if (m.type === 'streamed') {
      after = sample();
      void after.finally(() => child.send({ type: 'sampled' }));
    }
  });
  const result = await request<ClientResult>(
    child,
    { type: 'run', port, calls, durationS, key, sampleAtEnd: true, arrivalsPerS },
    'result',
  );
  await childExit(child);
  if (!before || !after) throw new Error('the load client did not report its steady state');
  const before_ = await before;
  const after_ = await after;

  const merged = new Map<number, number>();
  let ticks = 0;
  let dropped = 0;
  let cpuPct = 0;
  const perWorker: Record<string, number | null> = {};
  const engineCpu = { user_ms: 0, system_ms: 0, wall_ms: 0, call_s: 0 };
  for (const [w, b] of after_) {
    const d = delta(before_.get(w), b);
    engineCpu.user_ms += d.cpuUserS * 1000;
    engineCpu.system_ms += d.cpuSystemS * 1000;
    engineCpu.wall_ms = Math.max(engineCpu.wall_ms, d.at);
    engineCpu.call_s += callSeconds(d.framesIn);
    for (const [le, n] of d.buckets) merged.set(le, (merged.get(le) ?? 0) + n);
    ticks += d.count;
    dropped += d.dropped;
    if (d.at > 0) cpuPct += ((d.cpuS * 1000) / d.at) * 100;
    perWorker[w] = quantileBound(d.buckets, d.count, 0.99);
  }
  const histogram: Record<string, number> = {};
  let prev = 0;
  for (const le of [...merged.keys()].sort((a, b) => a - b)) {
    const n = merged.get(le)!;
    histogram[le === Number.POSITIVE_INFINITY ? '+Inf' : `<=${le}`] = n - prev;
    prev = n;
  }
  const maxBucket = quantileBound(merged, ticks, 1);
  return {
    calls,
    workers,
    duration_s: durationS,
    pacer_lag_ms: {
      p50: quantileBound(merged, ticks, 0.5),
      p99: quantileBound(merged, ticks, 0.99),
      max_bucket: maxBucket,
      ticks,
      histogram,
    },
    per_worker_pacer_lag_p99_ms: perWorker,
    jitter_ms_p99: round(result.jitter_p99),
    ...outcome(result, dropped),
    engine_cpu_pct: round(cpuPct, 1),
    ...cpuCost(engineCpu, result.client_cpu),
    client_cpu_pct: round(result.client_cpu_pct, 1),
    client_send_late_ms_p99: round(result.client_send_late_p99),
    loadavg_1m: [round(load0, 1), round(os.loadavg()[0]!, 1)],
  };
}

export async function runWorkers(ctx: BenchContext): Promise<Record<string, unknown> & { suite: string }> {
  if ((flagString(ctx.args, 'mode') ?? 'echo') !== 'echo')
    throw new CliError('--workers measures media-only calls: --mode echo', EXIT.usage);
  const flag = ctx.args.flags.workers;
  const workers = flag === true || flag === 'auto' ? os.availableParallelism() : Number(flag);
  if (!Number.isInteger(workers) || workers < 1)
    throw new CliError(`--workers must be a positive integer or auto, got '${String(flag)}'`, EXIT.usage);
  const durationS = flagNumber(ctx.args, 'duration', 10);
  const ramp = (flagString(ctx.args, 'ramp') ?? '')
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
  const plan = ramp.length > 0 ? ramp : [flagNumber(ctx.args, 'calls', 500 * workers)];

  let pg: PgCluster | undefined;
  let databaseUrl = process.env.DATABASE_URL;
  let store: string;
  if (databaseUrl) store = 'DATABASE_URL';
  else {
    ctx.progress('load: DATABASE_URL unset: starting a throwaway Postgres cluster (initdb + pg_ctl in a temp dir)');
    pg = await startPgCluster();
    databaseUrl = await pg.newDatabase();
    store = 'throwaway Postgres cluster started and stopped by this bench';
  }
  const maxCalls = Math.max(...plan);
  const arrivals = arrivalsFlag(ctx.args.flags.arrivals);
  ctx.progress(`load: the client opens ${arrivals} calls per second (--arrivals)`);
  ctx.progress(
    `load: account: MEDIA_MAX_PENDING_PER_IP=${Math.max(20, maxCalls)} (every bench call comes from 127.0.0.1), no call limits`,
  );
  let engine: Engine | undefined;
  const runs: WorkersRun[] = [];
  try {
    engine = await startEngine(workers, databaseUrl, maxCalls);
    const created = await api<{ data: { assistantApiKey: string } }>(engine.base, 'POST', '/api/v1/assistants', {
      name: 'bench load',
      mode: 'echo',
    });
    for (const n of plan) {
      const r = await runOnce(engine, created.data.assistantApiKey, workers, n, durationS, arrivals, ctx.progress);
      ctx.progress(
        `  pacer lag p50 ${shown(r.pacer_lag_ms.p50)} p99 ${shown(r.pacer_lag_ms.p99)} max ${shown(r.pacer_lag_ms.max_bucket)} ms (per worker ${JSON.stringify(r.per_worker_pacer_lag_p99_ms)}), jitter p99 ${r.jitter_ms_p99} ms, dropped ${r.dropped_frames}, failed ${r.calls_failed}${failureNote(r)}, engine cpu ${r.engine_cpu_pct}%`,
      );
      ctx.progress(costLine(r));
      runs.push(r);
    }
  } finally {
    await engine?.stop();
    if (pg) {
      await pg.stop();
      ctx.progress('load: throwaway Postgres cluster stopped');
    }
  }
  const passing = runs.filter(
    (r) => r.pacer_lag_ms.p99 !== null && r.pacer_lag_ms.p99 <= 20 && r.dropped_frames === 0 && r.calls_failed === 0,
  );
  const best = passing.length ? Math.max(...passing.map((r) => r.calls)) : null;
  const goal = goalArithmetic(runs, passing, os.availableParallelism());
  if (goal) ctx.progress(`load: goal arithmetic: ${goal.note}`);
  return {
    suite: 'load',
    mode: 'echo',
    ...runs[runs.length - 1]!,
    store,
    max_calls_under_20ms_p99: best,
    calls_per_core_under_20ms_p99: best === null ? null : Math.floor(best / workers),
    ...(goal ? { goal_1000_calls_per_core: goal } : {}),
    cores: os.availableParallelism(),
    runs: runs.length > 1 ? runs : undefined,
    method:
      'engine: voice-engine serve --workers N (node:cluster, one port) on Postgres, echo-mode assistant from the API; client: separate process on the same machine, Twilio protocol, 20 ms mu-law frames in real time; lag = each worker pacer tick lateness (its /metrics histogram, before/after the run), merged by summing buckets (p99 = bucket bound)',
  };
}

export function workersTable(result: Record<string, unknown>): string[][] {
  const r = result as unknown as WorkersRun & {
    max_calls_under_20ms_p99: number | null;
    calls_per_core_under_20ms_p99: number | null;
  };
  return columnsOf(r, [
    ['mode', () => 'echo'],
    ['workers', (x) => x.workers],
    ['calls', (x) => x.calls],
    ['pacer lag p50 ms', (x) => shown(x.pacer_lag_ms.p50)],
    ['pacer lag p99 ms', (x) => shown(x.pacer_lag_ms.p99)],
    ['jitter p99 ms', (x) => x.jitter_ms_p99],
    ['dropped', (x) => x.dropped_frames],
    ['failed', (x) => x.calls_failed],
    ['engine cpu %', (x) => x.engine_cpu_pct],
    ...COST_COLUMNS,
    ['max calls p99<=20', (x) => x.max_calls_under_20ms_p99],
    ['calls/core p99<=20', (x) => x.calls_per_core_under_20ms_p99],
  ]);
}
