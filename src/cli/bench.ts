/**
 * `voice-engine bench <suite> [--json] [--out DIR]` (DESIGN.md section 7). With --json exactly one JSON object goes
 * to stdout and progress to stderr; without it, a table. Each suite lives in bench/<suite>.ts and returns its result
 * object; this file prints it and saves it as DIR/<suite>-<time>.json and DIR/<suite>.json (the latest; a result
 * with a `variant`, e.g. `rag --in-call`, as DIR/<suite>-<variant>.json so that it keeps its own) with the
 * machine description and the command line. DIR defaults to bench/out/ in the package (git-ignored): a run never
 * touches tracked files.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, EXIT, flagString, parseArgs } from './args.js';

export const SUITES = ['dsp', 'latency', 'load', 'rag', 'egress', 'observability', 'amd', 'noise'] as const;
export type Suite = (typeof SUITES)[number];

export interface BenchContext {
  args: ReturnType<typeof parseArgs>;
  /** Progress lines go to stderr so that stdout stays one JSON object. */
  progress(line: string): void;
}

export interface BenchModule {
  run(ctx: BenchContext): Promise<Record<string, unknown> & { suite: string }>;
  /** Rows for the human-readable table. */
  table?(result: Record<string, unknown>): string[][];
}

const loaders: Record<Suite, () => Promise<BenchModule>> = {
  dsp: () => import('../../bench/dsp.js'),
  latency: () => import('../../bench/latency.js'),
  load: () => import('../../bench/load.js'),
  rag: () => import('../../bench/rag.js'),
  egress: () => import('../../bench/egress.js'),
  observability: () => import('../../bench/observability.js'),
  amd: () => import('../../bench/amd.js'),
  noise: () => import('../../bench/noise.js'),
};

export function machineDescription() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    date: new Date().toISOString(),
    // Other work on the machine competes with the bench: the figures of a loaded machine say so.
    loadavg_1m: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

/** The package root (the folder holding our package.json), from src/cli under tsx or dist/src/cli when built. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'bench'))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}

function renderTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['json', 'fast', 'matrix', 'no-adapters']);
  const suite = args.positional[0] as Suite | undefined;
  if (!suite || !SUITES.includes(suite)) {
    throw new CliError(`bench needs a suite: ${SUITES.join(', ')}`, EXIT.usage);
  }
  const json = args.flags.json === true;
  const mod = await loaders[suite]();
  const outFlag = flagString(args, 'out');
  const machineBefore = machineDescription();
  const result = await mod.run({ args, progress: (line) => process.stderr.write(`${line}\n`) });
  const machine = { ...machineBefore, loadavg_1m_after: machineDescription().loadavg_1m };
  const dir = outFlag ? path.resolve(outFlag) : path.join(packageRoot(), 'bench', 'out');
  const saved = `${JSON.stringify({ ...result, machine, command: `voice-engine bench ${argv.join(' ')}` }, null, 2)}\n`;
  try {
    await mkdir(dir, { recursive: true });
    const stamp = machine.date.replace(/[:.]/g, '-');
    // A suite's variant (e.g. `rag --in-call`) keeps its own latest file beside the suite's.
    const name = typeof result.variant === 'string' ? `${suite}-${result.variant}` : suite;
    await writeFile(path.join(dir, `${name}-${stamp}.json`), saved);
    await writeFile(path.join(dir, `${name}.json`), saved);
    process.stderr.write(`bench ${suite}: results in ${path.join(dir, `${name}.json`)}\n`);
  } catch (err) {
    // An explicit --out must work; the default folder is a convenience (an installed package may be read-only).
    if (outFlag) throw new CliError(`--out ${outFlag}: ${(err as Error).message}`, EXIT.io);
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const rows = mod.table
      ? mod.table(result)
      : [['field', 'value'], ...Object.entries(result).map(([k, v]) => [k, JSON.stringify(v)])];
    process.stdout.write(`${renderTable(rows)}\n`);
  }
  return 0;
}
