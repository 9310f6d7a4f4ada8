import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';

/**
 * `serve --workers N`: one engine process per core on one port (node:cluster; the primary accepts connections and
 * hands them to workers round-robin). The primary runs no engine: it forks N workers, replaces one that dies (its
 * calls are lost with it and closed by the others through the heartbeat; the other workers' calls are untouched),
 * and on SIGTERM / SIGINT asks every worker to drain, then exits when all have.
 *
 *   primary ──fork──▶ worker 1 … N   (each: createEngine() + listen(PORT), sharing the listening socket)
 *      ├─ worker exit (not stopping) ──▶ fork a replacement (1 s back-off after a crash within 5 s of its start)
 *      └─ SIGTERM / SIGINT ──▶ a drain message to every worker ──▶ wait for all exits ──▶ exit 0
 * (a message, not a signal: a terminal's Ctrl-C already sends SIGINT to every worker of the process group, and the
 * worker takes a second signal as "exit now").
 */
export function defaultWorkers(shared: boolean): number {
  // With the shared store, one engine per core. With SQLite, one: the embedded store serves one process (its rate
  // limits, call limits and call control are in-process, and one file would be written by N processes), so
  // `--workers N > 1` on SQLite is refused (src/cli/serve.ts) rather than half-shared.
  return shared ? coreCount() : 1;
}

/** The machine's cores, for `--workers auto`. */
export function coreCount(): number {
  return availableParallelism();
}

export function isWorkerProcess(): boolean {
  return cluster.isWorker;
}

/** The worker's ordinal (1-based) inside `serve --workers`, or undefined in a single process. */
export function workerOrdinal(): number | undefined {
  return cluster.isWorker ? cluster.worker?.id : undefined;
}

/** In a worker: `fn` runs when the supervisor asks this worker to drain (its SIGTERM / SIGINT, forwarded). */
export function onDrainRequest(fn: () => void): void {
  if (!cluster.isWorker) return;
  process.on('message', (m: unknown) => {
    if ((m as { type?: unknown } | null)?.type === DRAIN) fn();
  });
}

/** In a worker, after draining: close the IPC channel, the last thing that keeps the process alive. */
export function leaveCluster(): void {
  if (cluster.isWorker) cluster.worker?.disconnect();
}

const DRAIN = 'voice-engine:drain';
const WORKER_PORT = 'VOICE_ENGINE_WORKER_PORT';

/** In a worker: the port every worker shares (chosen by the supervisor when PORT was 0). */
export function sharedWorkerPort(): number | undefined {
  const v = cluster.isWorker ? process.env[WORKER_PORT] : undefined;
  return v ? Number(v) : undefined;
}

export async function runPrimary(opts: {
  workers: number;
  port: number;
  host: string;
  log(line: string): void;
}): Promise<number> {
  let stopping = false;
  const started = new Map<Worker, number>();
  // `--port 0`: every worker, replacements included, must listen on one port (one shared handle in this process):
  // pick a free one here, once, rather than let each worker's listen(0) pick its own.
  const port = opts.port === 0 ? await freePort(opts.host) : opts.port;
  const env = { [WORKER_PORT]: String(port) };
  cluster.on('listening', (w, address) => {
    opts.log(`voice-engine: worker ${w.id} pid ${w.process.pid} listening on port ${address.port}`);
    // A worker still starting when the drain was sent had no listener for it yet: ask again now that it is up.
    if (stopping) w.send({ type: DRAIN });
  });
  const fork = () => {
    const w = cluster.fork(env);
    started.set(w, Date.now());
    opts.log(`voice-engine: worker ${w.id} pid ${w.process.pid} started`);
  };
  for (let i = 0; i < opts.workers; i++) fork();
  opts.log(`voice-engine: ${opts.workers} worker processes (pid ${process.pid} supervises)`);
  return new Promise<number>((resolve) => {
    cluster.on('exit', (w, code, signal) => {
      const at = started.get(w) ?? 0;
      started.delete(w);
      // A worker that drained and left on its own (a signal sent to it directly, e.g. systemd signalling the whole
      // control group before this process has forwarded its own) stopped on purpose: not replaced.
      if (stopping || w.exitedAfterDisconnect) {
        if (!stopping) opts.log(`voice-engine: worker ${w.process.pid} drained and left`);
        if (started.size === 0) resolve(0);
        return;
      }
      opts.log(`voice-engine: worker ${w.process.pid} exited (${signal ?? `code ${code}`}); starting a replacement`);
      // A worker that dies right after starting (bad config, store down) would otherwise be re-forked in a hot loop.
      const backoff = Date.now() - at < 5000 ? 1000 : 0;
      setTimeout(fork, backoff).unref();
    });
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      opts.log(`voice-engine: ${signal}: draining ${started.size} workers`);
      if (started.size === 0) resolve(0);
      for (const w of started.keys()) w.send({ type: DRAIN });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
