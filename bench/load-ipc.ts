/** The parent side of the load client's IPC (bench/load-client.ts), shared by bench load and bench load --workers. */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, EXIT } from '../src/cli/args.js';
import type { CpuSample } from './load-cost.js';

/**
 * Calls the load client opens per second by default (`--arrivals N`): each call start costs the engine a few store
 * round trips (assistant, call limits, the call record), and a platform's calls do not all start in the same
 * millisecond; 2,000 calls arrive in 10 s.
 */
export const DEFAULT_ARRIVALS_PER_S = 200;

/** What the load client reports at the end of a run. */
export interface ClientResult {
  frames_sent: number;
  frames_received: number;
  closed_early: number;
  not_connected: number;
  /** Upgrades the engine refused, by HTTP status (429: a per-IP cap). */
  refused_by_status: Record<string, number>;
  /** Calls closed before their last frame, by close code and reason. */
  closed_early_by_code: Record<string, number>;
  jitter_p50: number;
  jitter_p99: number;
  client_send_late_p99: number;
  client_cpu_pct: number;
  /** The client's CPU over the steady state (media-only runs). */
  client_cpu?: CpuSample;
  turn_latency_p50?: number;
  turn_latency_p95?: number;
  turns?: number;
  /** Turns with no new agent audio (after a > 200 ms gap) within 5 s of their end, by the client's audio rule. */
  turns_unanswered?: number;
  /** full mode, per caller turn: [call, end of the turn in the looped script (ms), latency ms or null]. */
  turn_results?: [number, number, number | null][];
}

/** How the calls of a run went, as both load benches report it. */
export interface CallsOutcome {
  /** Frames the engine dropped + frames sent that never came back. */
  dropped_frames: number;
  frames_sent: number;
  frames_returned: number;
  calls_failed: number;
  /** Calls whose WebSocket upgrade the engine refused, by HTTP status (part of calls_failed). */
  calls_refused: Record<string, number>;
  /** Calls closed before their last frame, by close code and reason (part of calls_failed). */
  calls_closed_early: Record<string, number>;
}

/** `lostCounts`: frames sent that never came back count as dropped (media-only echo). */
export function outcome(r: ClientResult, engineDropped: number, lostCounts = true): CallsOutcome {
  const lost = lostCounts ? Math.max(0, r.frames_sent - r.frames_received) : 0;
  return {
    dropped_frames: engineDropped + lost,
    frames_sent: r.frames_sent,
    frames_returned: r.frames_received,
    calls_failed: r.closed_early + r.not_connected,
    calls_refused: r.refused_by_status,
    calls_closed_early: r.closed_early_by_code,
  };
}

/** The client script next to this file, with this file's extension (.ts under tsx, .js from dist). */
export function clientPath(): string {
  const self = fileURLToPath(import.meta.url);
  return path.join(path.dirname(self), `load-client${path.extname(self)}`);
}

export function request<T>(child: ChildProcess, msg: object, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: { type: string }) => {
      if (m.type === type) {
        child.off('message', onMsg);
        resolve(m as T);
      }
    };
    child.on('message', onMsg);
    child.once('exit', (code) => reject(new Error(`load client exited with ${code}`)));
    child.send(msg);
  });
}

/**
 * The client exits on its own once it has reported (so that `node --cpu-prof` writes its profile too); killed
 * after `ms` if it has not.
 */
export async function childExit(child: ChildProcess, ms = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      child.kill();
      resolve();
    }, ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** `--arrivals N`: calls opened per second by the load client. */
export function arrivalsFlag(value: unknown): number {
  if (value === undefined) return DEFAULT_ARRIVALS_PER_S;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new CliError('--arrivals must be a positive number of calls per second', EXIT.usage);
  return n;
}

/** Why calls failed, for the progress line: refused upgrades by HTTP status, early closes by code and reason. */
export function failureNote(r: {
  calls_refused: Record<string, number>;
  calls_closed_early: Record<string, number>;
}): string {
  const parts = Object.entries(r.calls_refused).map(([status, n]) => `${n} x HTTP ${status}`);
  const closed = Object.entries(r.calls_closed_early).map(([why, n]) => `${n} x ${why}`);
  return (
    (parts.length ? ` (refused at the upgrade: ${parts.join(', ')})` : '') +
    (closed.length ? ` (closed early: ${closed.join(', ')})` : '')
  );
}
