/** A user-facing CLI error: printed as one line, no stack trace, with its exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string | true>;
}

/**
 * Minimal argv parser: `--name value`, `--name=value`, `-o value`, bare `--flag`. `booleans` lists flags that never
 * take a value.
 */
export function parseArgs(argv: string[], booleans: readonly string[] = []): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--') || (a.startsWith('-') && a.length === 2 && !/^-\d/.test(a))) {
      const body = a.replace(/^--?/, '');
      const eq = body.indexOf('=');
      if (eq >= 0) {
        flags[body.slice(0, eq)] = body.slice(eq + 1);
      } else if (booleans.includes(body) || i + 1 >= argv.length || argv[i + 1]!.startsWith('--')) {
        flags[body] = true;
      } else {
        flags[body] = argv[++i]!;
      }
    } else {
      positional.push(a);
    }
  }
  return { positional, flags };
}

export function flagString(args: ParsedArgs, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = args.flags[n];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

export function flagNumber(args: ParsedArgs, name: string, fallback: number): number {
  const v = args.flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n)) throw new CliError(`--${name} needs a number`, 2);
  return n;
}
