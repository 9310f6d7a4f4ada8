/**
 * Exit codes, one per error class, the same in every command (listed by `voice-engine --help`):
 * 1 a check failed (replay expectations not met), 2 usage (bad command line), 3 input (a file that cannot be read
 * or decoded), 4 connection (the engine refused or dropped the stream), 5 provider (ASR / TTS / LLM failed),
 * 6 output (a result cannot be written), 70 internal (a bug: the stack is printed with LOG_LEVEL=debug).
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  input: 3,
  connection: 4,
  provider: 5,
  io: 6,
  internal: 70,
} as const;

export const EXIT_HELP: readonly [number, string][] = [
  [EXIT.ok, 'success'],
  [EXIT.failed, 'a check failed (replay: the scenario expectations were not met)'],
  [EXIT.usage, 'bad command line (unknown command or flag value, missing argument)'],
  [EXIT.input, 'an input file cannot be read or decoded (missing, not audio, not a scenario)'],
  [EXIT.connection, 'the engine refused or dropped the stream (replay --url: HTTP error, 4xxx close)'],
  [EXIT.provider, 'a provider failed (ASR / TTS / LLM)'],
  [EXIT.io, 'an output cannot be written (--out, -o)'],
  [EXIT.internal, 'internal error (a bug; LOG_LEVEL=debug prints the stack)'],
];

/** A user-facing CLI error: printed as one line, no stack trace, with its exit code (EXIT). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.input) {
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
  if (typeof v !== 'string' || !Number.isFinite(n)) throw new CliError(`--${name} needs a number`, EXIT.usage);
  return n;
}
