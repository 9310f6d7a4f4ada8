import { CliError } from './args.js';

export async function run(_argv: string[]): Promise<number> {
  throw new CliError("'replay' is not built yet in this version", 3);
}
