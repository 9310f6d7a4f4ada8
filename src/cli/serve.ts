import { ensureFirstTenant } from '../api/auth.js';
import {
  coreCount,
  defaultWorkers,
  isWorkerProcess,
  leaveCluster,
  onDrainRequest,
  runPrimary,
  sharedWorkerPort,
  workerOrdinal,
} from '../cluster/workers.js';
import { type EngineConfig, loadConfig } from '../config.js';
import { createEngine } from '../engine.js';
import { connectStore, StoreUnavailableError } from '../store/index.js';
import { CliError, parseArgs } from './args.js';

/**
 * `voice-engine serve` (what `npm start` runs): the engine on PORT (8080) with embedded offline defaults.
 * SIGTERM / SIGINT drain: /health answers 503 so a load balancer stops sending, new media streams are refused
 * with 4050, calls in progress get DRAIN_TIMEOUT_MS (default 30 s) to finish. `--workers N` runs N engine processes
 * on the one port (src/cluster/workers.ts); ENGINE_HEARTBEAT_MS / ENGINE_DEAD_AFTER_MS tune call ownership.
 */
export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const config = loadConfig(process.env);
  if (typeof args.flags.port === 'string') config.port = Number(args.flags.port);
  if (typeof args.flags.host === 'string') config.host = args.flags.host;
  config.port = sharedWorkerPort() ?? config.port;
  if (!isWorkerProcess()) {
    const workers = workerCount(args.flags.workers, config.databaseUrl !== undefined);
    if (workers > 1) {
      // The primary checks the store once (a clear exit 4 when Postgres is down, rather than N crashing workers)
      // and creates the first tenant, so its key banner prints once.
      await prepareStore(config);
      return runPrimary({ workers, port: config.port, host: config.host, log: (l) => process.stdout.write(`${l}\n`) });
    }
  }
  // A drain asked for while this worker is still starting (a replacement forked just before SIGTERM) is kept and
  // honoured once the engine is up, so that worker does not keep the supervisor waiting forever.
  let drain: (() => void) | undefined;
  let drainAsked = false;
  onDrainRequest(() => {
    drainAsked = true;
    drain?.();
  });
  const drainTimeoutMs = Number(process.env.DRAIN_TIMEOUT_MS ?? 30_000);
  const engine = await createEngine({
    config,
    drainTimeoutMs,
    ...optionalMs('heartbeatMs', process.env.ENGINE_HEARTBEAT_MS),
    ...optionalMs('deadAfterMs', process.env.ENGINE_DEAD_AFTER_MS),
  }).catch((err: unknown) => {
    // Postgres down or DATABASE_URL wrong: one clear line and exit code 4, not a stack trace.
    if (err instanceof StoreUnavailableError) throw new CliError(err.message, err.exitCode);
    throw err;
  });
  const { url } = await engine.listen();
  // The default VAD's Silero model compiles ~15 MB of wasm on first use (~1-2 s of CPU): in the background now, not
  // during the first call's greeting. A failure is each call's to report (it falls back to WebRTC alone).
  void import('../audio/silero.js').then((m) => m.loadSilero()).catch(() => undefined);
  const providers = await engine.providers.catalog.providers('asr');
  const offlineAsr = providers.find((p) => p.id === 'offline');
  const lines = [
    `voice-engine listening on ${url}`,
    `  media:   ${url.replace(/^http/, 'ws')}/media/<twilio|telnyx|plivo|vonage|exotel|freeswitch|audiofork|asterisk|jambonz|native>[/<assistantApiKey>]`,
    `  api:     ${url}/api/v1   docs: ${url}/docs   health: ${url}/health`,
    `  data:    ${config.dataDir}`,
    `  providers: asr=${config.providers.deepgram.apiKey ? 'deepgram,' : ''}offline llm=${config.providers.openai.apiKey || config.providers.openai.baseUrl ? 'openai,' : ''}rules tts=${config.providers.elevenlabs.apiKey ? 'elevenlabs,' : ''}offline`,
  ];
  if (offlineAsr && offlineAsr.configured === false) {
    lines.push(
      '  note: offline speech recognition needs `apt-get install pocketsphinx pocketsphinx-en-us`; DTMF-only assistants work without it',
    );
  }
  // Under --workers, the first worker speaks for all (they share the port).
  if ((workerOrdinal() ?? 1) === 1) process.stdout.write(`${lines.join('\n')}\n`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    // `drain` (the supervisor's message under --workers) never forces: a Ctrl-C in a terminal reaches every worker
    // directly as SIGINT as well, and that one plus the supervisor's drain must not count as two signals.
    const stop = (reason: string, force: boolean) => {
      if (stopping) {
        if (!force) return;
        process.stderr.write('second signal: exiting now\n');
        process.exit(1);
      }
      stopping = true;
      engine.logger.info({ signal: reason, activeCalls: engine.gateway.activeCalls }, 'draining');
      engine.close().then(resolve, (err: unknown) => {
        engine.logger.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.on('SIGINT', () => stop('SIGINT', true));
    process.on('SIGTERM', () => stop('SIGTERM', true));
    drain = () => stop('drain', false);
    if (drainAsked) drain();
  });
  leaveCluster();
  return 0;
}

/** `--workers N|auto` (auto: one per core); default one per core on Postgres, 1 on SQLite (N > 1 is refused). */
function workerCount(flag: string | boolean | undefined, shared: boolean): number {
  if (flag === undefined || flag === false) return defaultWorkers(shared);
  const n = flag === 'auto' ? coreCount() : Number(flag);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`--workers must be a positive integer, got '${flag}'`, 2);
  if (n > 1 && !shared) {
    throw new CliError(
      '--workers N > 1 needs the shared store: set DATABASE_URL=postgres://… (the embedded SQLite store serves one process)',
      2,
    );
  }
  return n;
}

async function prepareStore(config: EngineConfig): Promise<void> {
  const store = await connectStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl }).catch(
    (err: unknown) => {
      if (err instanceof StoreUnavailableError) throw new CliError(err.message, err.exitCode);
      throw err;
    },
  );
  try {
    await ensureFirstTenant(store, config, (l) => process.stdout.write(`${l}\n`));
  } finally {
    await store.close();
  }
}

function optionalMs<K extends string>(key: K, v: string | undefined): Partial<Record<K, number>> {
  const n = Number(v);
  return v && Number.isFinite(n) && n > 0 ? ({ [key]: n } as Partial<Record<K, number>>) : {};
}
