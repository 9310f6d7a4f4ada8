/** The parent side of the load client's IPC (bench/load-client.ts), shared by bench load and bench load --workers. */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
  turn_latency_p50?: number;
  turn_latency_p95?: number;
  turns?: number;
  /** Turns with no new agent audio (after a > 200 ms gap) within 5 s of their end, by the client's audio rule. */
  turns_unanswered?: number;
  /** full mode, per caller turn: [call, end of the turn in the looped script (ms), latency ms or null]. */
  turn_results?: [number, number, number | null][];
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
