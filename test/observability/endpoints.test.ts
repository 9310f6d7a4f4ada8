/**
 * The metrics endpoint's options (own port, bearer token), tracing's environment switch, W3C trace context on HTTP
 * tools, and the call's story in the logs (start and end lines carrying the call id, no phone numbers).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { PhoneSim } from '../../src/call/phone-sim.js';
import { loadConfig } from '../../src/config.js';
import { createEngine, type Engine } from '../../src/engine.js';
import { silentLogger } from '../../src/log.js';
import { bearerMatches } from '../../src/observability/metrics-http.js';
import { rememberTraceparent } from '../../src/observability/trace-context.js';
import { createTracing, tracingRequested } from '../../src/observability/tracing.js';
import { httpTool } from '../../src/tools/http.js';
import type { ToolContext } from '../../src/tools/types.js';

const KEY = 'vek_test_metrics_endpoint_0123456789ab';
let engines: Engine[] = [];
let dirs: string[] = [];
afterEach(async () => {
  for (const e of engines) await e.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
  engines = [];
  dirs = [];
});

async function engineWith(env: Record<string, string>, logger = silentLogger) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 've-metrics-'));
  dirs.push(dir);
  const config = loadConfig({ DATA_DIR: dir, PORTAL_EMAIL: 'm@example.com', PORTAL_API_KEY: KEY, ...env });
  const engine = await createEngine({ config, logger, print: () => {} });
  engines.push(engine);
  const l = await engine.listen({ port: 0, host: '127.0.0.1' });
  return { engine, ...l };
}

describe('GET /metrics', () => {
  it('is served on the engine port, behind METRICS_TOKEN when set (constant-time bearer check)', async () => {
    const { url } = await engineWith({ METRICS_TOKEN: 'scrape-me' });
    const none = await fetch(`${url}/metrics`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer scrape-me' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toContain('text/plain');
    const text = await ok.text();
    expect(text).toContain('# TYPE voice_engine_active_calls gauge');
    expect(text).toContain('voice_engine_webhook_outbox_depth 0');
    expect(text).toContain('voice_engine_outbound_queue_depth 0');
  });

  it('moves to its own port with METRICS_PORT (and leaves the engine port)', async () => {
    const { url, metricsPort } = await engineWith({ METRICS_PORT: '0' });
    expect(metricsPort).toBeGreaterThan(0);
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('voice_engine_calls_total');
    expect((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status).toBe(404);
  });

  it('bearerMatches needs the scheme and the exact token', () => {
    expect(bearerMatches('Bearer abc', 'abc')).toBe(true);
    expect(bearerMatches('bearer abc', 'abc')).toBe(true);
    expect(bearerMatches('abc', 'abc')).toBe(false);
    expect(bearerMatches('Bearer abcd', 'abc')).toBe(false);
    expect(bearerMatches(undefined, 'abc')).toBe(false);
  });
});

describe('tracing switch', () => {
  it('is off unless the standard OTEL_* variables ask for it', () => {
    expect(tracingRequested({})).toBe(false);
    expect(createTracing({ env: {} }).enabled).toBe(false);
    expect(createTracing({ env: {} }).startCall({ callId: 'c', tenantId: 't', assistantId: 'a', protocol: 'x' })).toBe(
      undefined,
    );
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'console' })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x' })).toBe(false);
    expect(tracingRequested({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toBe(false);
  });
});

describe('trace context on HTTP tools', () => {
  it('sends the call traceparent with the tool request', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      rememberTraceparent('c_traced', tp);
      const tool = httpTool({
        type: 'http',
        name: 'lookup',
        description: 'x',
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/lookup`,
        method: 'GET',
      });
      const ctx = { callId: 'c_traced', signal: new AbortController().signal, logger: silentLogger } as ToolContext;
      const r = await tool.run({}, ctx);
      expect(r.ok).toBe(true);
      expect(seen[0]?.traceparent).toBe(tp);
      await tool.run({}, { ...ctx, callId: 'c_untraced' });
      expect(seen[1]?.traceparent).toBeUndefined();
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('call logs', () => {
  it('one info line at call start and one at its end, each with the call id; phone numbers never in clear', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l));
        cb();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const { url } = await engineWith({}, logger);
    const res = await fetch(`${url}/api/v1/assistants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ firstMessage: 'Hi.', dtmf: { menu: { '9': { reply: 'Bye.', hangup: true } } } }),
    });
    const astKey = ((await res.json()) as { data: { assistantApiKey: string } }).data.assistantApiKey;
    const sim = await PhoneSim.connect({
      url: `${url.replace(/^http/, 'ws')}/media/twilio/${astKey}`,
      protocol: 'twilio',
      from: '+15550001234',
      to: '+15550009876',
    });
    const silence = new Uint8Array(160).fill(0xff);
    const t = setInterval(() => {
      if (!sim.closed) sim.sendFrame(silence);
    }, 20);
    try {
      while (sim.firstAgentAudioAt < 0 && !sim.closed) await new Promise((r) => setTimeout(r, 20));
      sim.sendDtmf('9');
      await sim.whenClosed;
    } finally {
      clearInterval(t);
    }
    for (let i = 0; i < 100 && !lines.some((l) => l.msg === 'call ended'); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const started = lines.find((l) => l.msg === 'call started');
    const ended = lines.find((l) => l.msg === 'call ended');
    expect(started?.callId).toMatch(/^c_/);
    expect(ended?.callId).toBe(started?.callId);
    expect(ended).toMatchObject({ protocol: 'twilio', outcome: 'completed' });
    expect(typeof ended?.durationMs).toBe('number');
    expect(typeof ended?.turns).toBe('number');
    const all = JSON.stringify(lines);
    expect(all).not.toContain('5550001234');
    expect(all).not.toContain('5550009876');
    expect(all).not.toContain(KEY);
  });
});
