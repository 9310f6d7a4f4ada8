import type { BenchContext } from '../src/cli/bench.js';
import { CliError } from '../src/cli/args.js';

export async function run(_ctx: BenchContext): Promise<{ suite: string }> {
  throw new CliError("bench suite 'latency' is not built yet in this version", 3);
}
