#!/usr/bin/env node
/**
 * The voice-engine command (DESIGN.md section 3). Each command is one module in this folder exporting
 * `run(argv): Promise<number>` (the exit code); this file only dispatches, so `--help` stays fast.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CliError, EXIT, EXIT_HELP } from './args.js';

interface CommandEntry {
  summary: string;
  usage: string;
  load: () => Promise<{ run(argv: string[]): Promise<number> }>;
}

const COMMANDS: Record<string, CommandEntry> = {
  serve: {
    summary: 'start the engine (what `npm start` runs)',
    usage: 'serve',
    load: () => import('./serve.js'),
  },
  dtmf: {
    summary: 'detect DTMF digits in an audio file (WAV, mp3, ogg, m4a, flac), one JSON line per digit',
    usage: 'dtmf <file>',
    load: () => import('./dtmf.js'),
  },
  replay: {
    summary: 'stream a recording (WAV, mp3, ogg, m4a, flac, or a wire JSONL) through the engine over a real WebSocket',
    usage:
      'replay <file|file.jsonl> [--protocol twilio|native] [--url ws://...] [--assistant KEY] [--scenario S.json] [--fast] [--out agent.wav] [--json]',
    load: () => import('./replay.js'),
  },
  bench: {
    summary: 'run a bench suite: dsp, latency, load, rag, egress (results in bench/out/ or --out DIR)',
    usage:
      'bench <dsp|latency|load|rag|egress> [--json] [--out DIR] [latency: --profile fast|realistic|slow --calls N --rounds N] [load: --mode echo|full --calls N --duration S --ramp N,N]',
    load: () => import('./bench.js'),
  },
  tts: {
    summary: 'synthesize text to a WAV file',
    usage: 'tts <text> -o out.wav [--provider P] [--voice V]',
    load: () => import('./tts.js'),
  },
  transcribe: {
    summary: 'transcribe an audio file (WAV, mp3, ogg, m4a, flac)',
    usage: 'transcribe <file> [--provider P] [--json]',
    load: () => import('./transcribe.js'),
  },
  tenants: {
    summary: 'manage tenants: add <email> (prints the new key once), list, key <email>, revoke <email> <keyId>',
    usage: 'tenants <add|list|key|revoke> [email] [keyId]',
    load: () => import('./tenants.js'),
  },
};

function help(): string {
  const lines = ['Usage: voice-engine <command> [options]', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(12)}${c.summary}`);
  lines.push('', "Run `voice-engine <command> --help` for a command's options.", '', 'Exit codes (every command):');
  for (const [code, what] of EXIT_HELP) lines.push(`  ${String(code).padEnd(4)}${what}`);
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${help()}\n`);
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`voice-engine: unknown command '${name}'\n\n${help()}\n`);
    return EXIT.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`Usage: voice-engine ${entry.usage}\n  ${entry.summary}\n`);
    return 0;
  }
  let mod: { run(argv: string[]): Promise<number> };
  try {
    mod = await entry.load();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String(err).includes(`/cli/${name}.`)) {
      process.stderr.write(`voice-engine: '${name}' is not built yet in this version\n`);
      return EXIT.usage;
    }
    throw err;
  }
  try {
    return await mod.run(rest);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`voice-engine ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    const code = exitCodeOf(err);
    process.stderr.write(`voice-engine ${name}: ${(err as Error).message ?? String(err)}\n`);
    if (process.env.LOG_LEVEL === 'debug') process.stderr.write(`${(err as Error).stack}\n`);
    return code;
  }
}

/** The error class of an error that is not a CliError, by its name (no imports: `--help` stays fast). */
function exitCodeOf(err: unknown): number {
  switch ((err as Error | undefined)?.name) {
    case 'ProviderError':
      return EXIT.provider;
    case 'ConfigError':
      return EXIT.usage;
    case 'WavError':
    case 'TranscodeError':
      return EXIT.input;
    default:
      return EXIT.internal;
  }
}

function isEntry(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}
if (isEntry()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`voice-engine: ${(err as Error).message ?? String(err)}\n`);
      process.exitCode = EXIT.internal;
    },
  );
}
