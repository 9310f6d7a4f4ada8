import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { freeUdpPort, SIPP } from '../../bench/load-sip.js';

/**
 * Debian's SIPp (sip-tester) as a trunk or registrar on loopback, running one of the UAS scenarios in
 * test/sip/sipp/ for one call (-m 1): done() is its exit code (0: the scenario ran to its end).
 */
export const hasSipp = existsSync(SIPP);

export interface SippUas {
  port: number;
  /** SIPp's exit code once its one call is over. */
  done(): Promise<number | null>;
  /** What SIPp printed on stderr (errors). */
  readonly stderr: string;
  kill(): void;
}

export async function runSippUas(scenario: string, extra: string[] = []): Promise<SippUas> {
  const port = await freeUdpPort();
  const child: ChildProcess = spawn(
    SIPP,
    [
      ...['-sf', path.join(import.meta.dirname, 'sipp', scenario), '-i', '127.0.0.1', '-p', String(port)],
      ...['-m', '1', '-nostdin', '-timeout', '50s', '-timeout_error'],
      ...extra,
    ],
    { cwd: import.meta.dirname, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // SIPp binds its port at start; give it a moment (the engine's INVITE is retransmitted anyway).
  await new Promise((r) => setTimeout(r, 300));
  if (child.exitCode !== null) throw new Error(`sipp ${scenario} exited at start (${child.exitCode}): ${stderr}`);
  return {
    port,
    done: () => exited,
    get stderr() {
      return stderr;
    },
    kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
