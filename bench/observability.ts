/**
 * `voice-engine bench observability [--calls N] [--turns T] [--json]`: what metrics and tracing cost a call.
 *
 * The same scripted Twilio calls (real WebSocket gateway, scripted providers of fixed latency: ASR final 150 ms
 * after the end of speech, LLM first token 120 ms, TTS first byte 60 ms) run through two engines in one process:
 * one with observability off, one with Prometheus metrics plus OpenTelemetry tracing exported over OTLP/HTTP to a
 * loopback collector. Calls alternate between the two engines so machine noise falls on both alike. Per turn,
 * overhead = voice-to-voice - (endpointing + LLM first token + TTS first byte), i.e. what the engine adds beyond
 * the providers' own time and the endpointing wait; the result is its p50/p95/p99 off, on, and on - off.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PhoneSim } from '../src/call/phone-sim.js';
import type { BenchContext } from '../src/cli/bench.js';
import { loadConfig } from '../src/config.js';
import { createEngine, type Engine } from '../src/engine.js';
import { silentLogger } from '../src/log.js';
import { createProviderRegistry } from '../src/providers/registry.js';
import { lastUser, ScriptedAsr, ScriptedLlm, ScriptedTts, scriptedRegistry } from './scripted.js';

interface Pcts {
  p50: number;
  p95: number;
  p99: number;
}

const ASR_FINAL_MS = 150;
const LLM_FIRST_TOKEN_MS = 120;
const TTS_FIRST_BYTE_MS = 60;

function pcts(values: number[]): Pcts {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]! : Number.NaN);
  const r = (v: number) => Math.round(v * 10) / 10;
  return { p50: r(at(0.5)), p95: r(at(0.95)), p99: r(at(0.99)) };
}

async function startCollector(): Promise<{ url: string; spans: () => number; close(): Promise<void> }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans: () => requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function engineFor(observe: boolean, dir: string): Promise<{ engine: Engine; url: string; key: string }> {
  const key = `vek_bench_observability_${observe ? 'on' : 'off'}_0123456789`;
  const config = loadConfig({ DATA_DIR: dir, PORTAL_EMAIL: 'bench@example.com', PORTAL_API_KEY: key });
  const scripted = scriptedRegistry({
    asr: new ScriptedAsr({ script: [], textFor: () => 'what time do you open', finalLatencyMs: ASR_FINAL_MS }),
    llm: new ScriptedLlm({
      respond: (m) => [{ text: `We open at nine. ${lastUser(m)}?` }],
      firstTokenMs: LLM_FIRST_TOKEN_MS,
    }),
    tts: new ScriptedTts({ msPerChar: 8, firstByteMs: TTS_FIRST_BYTE_MS }),
  });
  const real = createProviderRegistry(config, silentLogger);
  const engine = await createEngine({
    config,
    logger: silentLogger,
    print: () => {},
    observe,
    providers: { catalog: real.catalog, embed: () => real.embed(), ...scripted },
  });
  const { url } = await engine.listen({ port: 0, host: '127.0.0.1' });
  return { engine, url, key };
}

async function pace(sim: PhoneSim, loud: boolean, ms: number): Promise<void> {
  const frame = new Uint8Array(160);
  const start = performance.now();
  for (let i = 0; i < ms / 20; i++) {
    // Mu-law: 0xFF is digital silence; a square wave at ~-10 dBFS is "speech" for the scripted ASR and the VAD.
    for (let j = 0; j < 160; j++) frame[j] = loud ? (j % 16 < 8 ? 0x9f : 0x1f) : 0xff;
    sim.sendFrame(frame);
    const wait = start + (i + 1) * 20 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

async function oneCall(target: { engine: Engine; url: string }, astKey: string, turns: number): Promise<number[]> {
  const sim = await PhoneSim.connect({
    url: `${target.url.replace(/^http/, 'ws')}/media/twilio/${astKey}`,
    protocol: 'twilio',
  });
  await pace(sim, false, 400);
  for (let t = 0; t < turns; t++) {
    await pace(sim, true, 700);
    // Long enough for endpointing, the answer, and its playout at real time.
    await pace(sim, false, 2600);
  }
  await sim.stop();
  const tenantId = target.engine.firstTenantId;
  if (!tenantId) throw new Error('bench engine has no tenant');
  let callId: string | undefined;
  for (let i = 0; i < 200 && !callId; i++) {
    const row = (await target.engine.store.calls.list(tenantId, { limit: 1 })).rows[0];
    if (row && (row.status === 'completed' || row.status === 'failed') && target.engine.sessions.size === 0) {
      callId = row.id;
    } else await new Promise((r) => setTimeout(r, 50));
  }
  if (!callId) throw new Error('call did not end');
  const record = await target.engine.store.calls.get(tenantId, callId);
  const out: number[] = [];
  const n = (v: unknown) => (typeof v === 'number' ? v : undefined);
  for (const t of record?.turns ?? []) {
    const v2v = n(t.voiceToVoiceMs);
    const endpointing = n(t.endpointingMs);
    if (v2v === undefined || endpointing === undefined) continue;
    out.push(v2v - endpointing - (n(t.llmFirstTokenMs) ?? 0) - (n(t.ttsFirstByteMs) ?? 0));
  }
  return out;
}

export async function run(ctx: BenchContext): Promise<Record<string, unknown> & { suite: string }> {
  const calls = Number(ctx.args.flags.calls ?? 6);
  const turns = Number(ctx.args.flags.turns ?? 3);
  const collector = await startCollector();
  const dirOff = await mkdtemp(path.join(os.tmpdir(), 've-bench-obs-off-'));
  const dirOn = await mkdtemp(path.join(os.tmpdir(), 've-bench-obs-on-'));
  const saved = { ...process.env };
  try {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    const off = await engineFor(false, dirOff);
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.url;
    process.env.OTEL_BSP_SCHEDULE_DELAY = '200';
    const on = await engineFor(true, dirOn);
    const keyOf = async (e: { engine: Engine; url: string; key: string }) => {
      const res = await fetch(`${e.url}/api/v1/assistants`, {
        method: 'POST',
        headers: { authorization: `Bearer ${e.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ firstMessage: 'Hello.' }),
      });
      return ((await res.json()) as { data: { assistantApiKey: string } }).data.assistantApiKey;
    };
    const keys = { off: await keyOf(off), on: await keyOf(on) };
    const result = { off: [] as number[], on: [] as number[] };
    for (let i = 0; i < calls; i++) {
      for (const which of (i % 2 ? ['on', 'off'] : ['off', 'on']) as Array<'off' | 'on'>) {
        ctx.progress(`call ${i + 1}/${calls} observability ${which}`);
        result[which].push(...(await oneCall(which === 'on' ? on : off, keys[which], turns)));
      }
    }
    const scrape = await (await fetch(`${on.url}/metrics`)).text();
    await off.engine.close();
    await on.engine.close();
    const offP = pcts(result.off);
    const onP = pcts(result.on);
    return {
      suite: 'observability',
      calls,
      turns: result.on.length + result.off.length,
      providers_ms: { asr_final: ASR_FINAL_MS, llm_first_token: LLM_FIRST_TOKEN_MS, tts_first_byte: TTS_FIRST_BYTE_MS },
      overhead_ms: { off: offP, on: onP },
      added_ms: {
        p50: Math.round((onP.p50 - offP.p50) * 10) / 10,
        p95: Math.round((onP.p95 - offP.p95) * 10) / 10,
        p99: Math.round((onP.p99 - offP.p99) * 10) / 10,
      },
      otlp_export_requests: collector.spans(),
      metrics_bytes: scrape.length,
    };
  } finally {
    process.env = saved;
    await collector.close();
    await rm(dirOff, { recursive: true, force: true });
    await rm(dirOn, { recursive: true, force: true });
  }
}

export function table(r: Record<string, unknown>): string[][] {
  const o = r.overhead_ms as { off: Pcts; on: Pcts };
  const a = r.added_ms as Pcts;
  return [
    ['', 'p50 ms', 'p95 ms', 'p99 ms'],
    ['overhead, observability off', String(o.off.p50), String(o.off.p95), String(o.off.p99)],
    ['overhead, metrics + tracing on', String(o.on.p50), String(o.on.p95), String(o.on.p99)],
    ['added by observability', String(a.p50), String(a.p95), String(a.p99)],
  ];
}
