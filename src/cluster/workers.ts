import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';

/**
 * `serve --workers N`: one engine process per core on one port (node:cluster; the primary accepts connections and
 * hands them to workers round-robin). The primary runs no engine: it forks N workers, replaces one that dies (its
 * calls are lost with it and closed by the others through the heartbeat; the other workers' calls are untouched),
 * and on SIGTERM / SIGINT forwards the signal so every worker drains, then exits when all have.
 *
 *   primary ──fork──▶ worker 1 … N   (each: createEngine() + listen(PORT), sharing the listening socket)
 *      ├─ worker exit (not stopping) ──▶ fork a replacement (1 s back-off after a crash within 5 s of its start)
 *      └─ SIGTERM ──▶ SIGTERM to every worker ──▶ wait for all exits ──▶ exit 0
 */
export function defaultWorkers(_shared: boolean): number {
  // One process until `--workers N` is asked for: the multi-worker mode is experimental in this version (README,
  // "Running many engines"); many engine processes behind a load balancer are the tested way to scale out.
  return 1;
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

export async function runPrimary(opts: { workers: number; log(line: string): void }): Promise<number> {
  let stopping = false;
  const started = new Map<Worker, number>();
  const fork = () => {
    const w = cluster.fork();
    started.set(w, Date.now());
  };
  for (let i = 0; i < opts.workers; i++) fork();
  opts.log(`voice-engine: ${opts.workers} worker processes (pid ${process.pid} supervises)`);
  return new Promise<number>((resolve) => {
    cluster.on('exit', (w, code, signal) => {
      const at = started.get(w) ?? 0;
      started.delete(w);
      if (stopping) {
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
      for (const w of started.keys()) w.process.kill('SIGTERM');
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
