import { loadConfig } from '../../src/config.js';
import { createEngine, type Engine } from '../../src/engine.js';
import { silentLogger } from '../../src/log.js';

/** The whole engine with SIP on (SIP_PORT=0 on 127.0.0.1), its data in `dir`, and a client of its API. */
export interface SipEngine {
  engine: Engine;
  base: string;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; data: Record<string, unknown> }>;
}

export async function startSipEngine(
  dir: string,
  key: string,
  rtp: [number, number],
  env: Record<string, string> = {},
): Promise<SipEngine> {
  const config = loadConfig({
    DATA_DIR: dir,
    PORTAL_EMAIL: 'ops@example.com',
    PORTAL_API_KEY: key,
    LOG_LEVEL: 'silent',
    SIP_PORT: '0',
    SIP_HOST: '127.0.0.1',
    RTP_PORT_MIN: String(rtp[0]),
    RTP_PORT_MAX: String(rtp[1]),
    ...env,
  });
  const engine = await createEngine({ config, logger: silentLogger, print: () => {} });
  const base = (await engine.listen({ port: 0, host: '127.0.0.1' })).url;
  return {
    engine,
    base,
    async api(method, p, body) {
      const res = await fetch(`${base}${p}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const json = (await res.json()) as { data: Record<string, unknown> };
      return { status: res.status, data: json.data };
    },
  };
}
