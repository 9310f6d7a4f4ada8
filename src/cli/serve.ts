import { loadConfig } from '../config.js';
import { createEngine } from '../engine.js';
import { StoreUnavailableError } from '../store/index.js';
import { CliError, parseArgs } from './args.js';

/**
 * `voice-engine serve` (what `npm start` runs): the engine on PORT (8080) with embedded offline defaults.
 * SIGTERM / SIGINT drain: /health answers 503 so a load balancer stops sending, new media streams are refused
 * with 4050, calls in progress get DRAIN_TIMEOUT_MS (default 30 s) to finish.
 */
export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const config = loadConfig(process.env);
  if (typeof args.flags.port === 'string') config.port = Number(args.flags.port);
  if (typeof args.flags.host === 'string') config.host = args.flags.host;
  const drainTimeoutMs = Number(process.env.DRAIN_TIMEOUT_MS ?? 30_000);
  const engine = await createEngine({ config, drainTimeoutMs }).catch((err: unknown) => {
    // Postgres down or DATABASE_URL wrong: one clear line and exit code 4, not a stack trace.
    if (err instanceof StoreUnavailableError) throw new CliError(err.message, err.exitCode);
    throw err;
  });
  const { url } = await engine.listen();
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
  process.stdout.write(`${lines.join('\n')}\n`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        process.stderr.write('second signal: exiting now\n');
        process.exit(1);
      }
      stopping = true;
      engine.logger.info({ signal, activeCalls: engine.gateway.activeCalls }, 'draining');
      engine.close().then(resolve, (err: unknown) => {
        engine.logger.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}
