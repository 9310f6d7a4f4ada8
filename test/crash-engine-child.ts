/**
 * The engine as its own process, for the crash-recovery test (test/call-recovery.test.ts), which kills it with
 * SIGKILL mid-call. Configuration from the environment; prints one JSON line {"url"} once listening.
 */
import { loadConfig } from '../src/config.js';
import { createEngine } from '../src/engine.js';
import { silentLogger } from '../src/log.js';

const engine = await createEngine({ config: loadConfig(process.env), logger: silentLogger, print: () => {} });
const { url } = await engine.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ url })}\n`);
