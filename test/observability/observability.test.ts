/**
 * Observability through the whole engine: a real Twilio call over the real gateway (scripted providers of known
 * behaviour), /metrics scraped during and after it, spans caught by an in-memory exporter, and the call.ended
 * webhook checked for its W3C traceparent.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastUser, ScriptedAsr, ScriptedLlm, ScriptedTts, scriptedRegistry } from '../../bench/scripted.js';
import { sound } from '../../fixtures/lib/sounds.js';
import { setRmsDbfs } from '../../fixtures/lib/synth.js';
import { linearToMulaw } from '../../src/audio/g711.js';
import { PhoneSim } from '../../src/call/phone-sim.js';
import { loadConfig } from '../../src/config.js';
import { createEngine, type Engine } from '../../src/engine.js';
import { silentLogger } from '../../src/log.js';
import { createProviderRegistry } from '../../src/providers/registry.js';
import { fillFrame } from '../call/fake-leg.js';

const EMAIL = 'obs@example.com';
const KEY = 'vek_test_observability_0123456789abcdef';

/** The value of one sample of Prometheus text (`name{labels} value`); labels must match exactly those given. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const part of (m[2] ?? '').match(/\w+="[^"]*"/g) ?? []) {
      const [k, v] = part.split('=') as [string, string];
      got[k] = v.slice(1, -1);
    }
    if (
      Object.keys(labels).every((k) => got[k] === labels[k]) &&
      Object.keys(got).length === Object.keys(labels).length
    )
      return Number(m[3]);
  }
  return undefined;
}

/**
 * The caller's voice: a real speaker (asterisk-core-sounds-en, in .ci/run) at -20 dBFS from its voiced onset; the
 * default VAD (WebRTC confirmed by Silero) does not take noise for speech.
 */
let voice: Float64Array | undefined;

async function talk(sim: PhoneSim, speech: boolean, ms: number): Promise<void> {
  const frame = new Uint8Array(160);
  const start = performance.now();
  voice ??= setRmsDbfs(sound('vm-savefolder'), -20).subarray(1000);
  for (let i = 0; i < ms / 20; i++) {
    if (speech)
      for (let k = 0; k < 160; k++) frame[k] = linearToMulaw(Math.round(voice[(i * 160 + k) % voice.length]! * 32767));
    else fillFrame(frame, false);
    sim.sendFrame(frame);
    const wait = start + (i + 1) * 20 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

async function until(cond: () => boolean | Promise<boolean>, what: string, maxMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > maxMs) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('observability: metrics, traces and trace context on a real call', () => {
  let dir: string;
  let engine: Engine;
  let base: string;
  let receiver: http.Server;
  let receiverUrl: string;
  const exporter = new InMemorySpanExporter();
  const deliveries: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];

  const api = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: (await res.json()) as { data: Record<string, unknown> } };
  };
  const scrapeText = async () => (await fetch(`${base}/metrics`)).text();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 've-obs-'));
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString('utf8');
      });
      req.on('end', () => {
        deliveries.push({ headers: req.headers, body });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const config = loadConfig({ DATA_DIR: dir, PORTAL_EMAIL: EMAIL, PORTAL_API_KEY: KEY, LOG_LEVEL: 'silent' });
    const scripted = scriptedRegistry({
      asr: new ScriptedAsr({ script: ['what are your opening hours'] }),
      llm: new ScriptedLlm({
        // Long enough (about 3 s of audio) for the caller to talk over it.
        respond: (m) => [
          {
            text: `We open at nine. You asked: ${lastUser(m)}. We are open every day of the week from nine in the morning until six in the evening, and on holidays from ten until four, with free parking behind the store.`,
          },
        ],
        firstTokenMs: 30,
      }),
      tts: new ScriptedTts({ msPerChar: 10 }),
    });
    const real = createProviderRegistry(config, silentLogger);
    engine = await createEngine({
      config,
      logger: silentLogger,
      print: () => {},
      providers: { catalog: real.catalog, embed: () => real.embed(), ...scripted },
      spanExporter: exporter,
    });
    base = (await engine.listen({ port: 0, host: '127.0.0.1' })).url;
  });

  afterAll(async () => {
    await engine?.close();
    await new Promise<void>((r) => receiver.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  it('counts the call, its turn latencies and provider requests, lays down call -> turn -> stage spans, and sends traceparent', async () => {
    const hook = await api('POST', '/api/v1/webhooks', { url: receiverUrl, events: ['call.ended'] });
    expect(hook.status).toBe(201);
    const created = await api('POST', '/api/v1/assistants', { firstMessage: 'Hello, Acme here.' });
    const astKey = created.json.data.assistantApiKey as string;

    const before = await scrapeText();
    const completedBefore =
      sample(before, 'voice_engine_calls_total', { protocol: 'twilio', outcome: 'completed' }) ?? 0;
    const v2vBefore = sample(before, 'voice_engine_turn_latency_ms_count', { stage: 'voice_to_voice' }) ?? 0;
    const llmBefore =
      sample(before, 'voice_engine_provider_requests_total', { kind: 'llm', provider: 'scripted-llm' }) ?? 0;

    const sim = await PhoneSim.connect({
      url: `${base.replace(/^http/, 'ws')}/media/twilio/${astKey}`,
      protocol: 'twilio',
    });
    await talk(sim, false, 200);
    await until(() => sim.firstAgentAudioAt >= 0, 'greeting heard');
    await until(
      () => engine.sessions.size === 1 && [...engine.sessions.values()][0]!.state === 'listening',
      'listening',
    );

    // During the call: one active Twilio call.
    const during = await scrapeText();
    expect(sample(during, 'voice_engine_active_calls', { protocol: 'twilio' })).toBe(1);

    await talk(sim, true, 600);
    await talk(sim, false, 400);
    await until(async () => {
      const t = await scrapeText();
      return (sample(t, 'voice_engine_turn_latency_ms_count', { stage: 'voice_to_voice' }) ?? 0) > v2vBefore;
    }, 'turn metrics');
    // Talk over the answer: the agent pauses at once (clear on the wire); the onset -> pause time is a barge_in sample.
    await until(() => [...engine.sessions.values()][0]?.state === 'agent_speaking', 'agent answering');
    await talk(sim, true, 500);
    await until(async () => {
      const t = await scrapeText();
      return (sample(t, 'voice_engine_turn_latency_ms_count', { stage: 'barge_in' }) ?? 0) > 0;
    }, 'barge-in measured');
    await talk(sim, false, 300);
    await sim.stop();
    await until(async () => {
      const t = await scrapeText();
      return (
        (sample(t, 'voice_engine_calls_total', { protocol: 'twilio', outcome: 'completed' }) ?? 0) > completedBefore
      );
    }, 'call counted');

    const after = await scrapeText();
    expect(sample(after, 'voice_engine_active_calls', { protocol: 'twilio' })).toBe(0);
    expect(sample(after, 'voice_engine_calls_total', { protocol: 'twilio', outcome: 'completed' })).toBe(
      completedBefore + 1,
    );
    // Greeting + one answered turn: the turn's voice-to-voice and endpointing were observed once each.
    expect(sample(after, 'voice_engine_turn_latency_ms_count', { stage: 'voice_to_voice' })).toBe(v2vBefore + 1);
    expect(sample(after, 'voice_engine_turn_latency_ms_count', { stage: 'endpointing' })).toBeGreaterThanOrEqual(1);
    // Provider requests: the LLM answered the turn (and may write the post-call summary); ASR opened for the call;
    // TTS spoke the greeting and the answer.
    expect(
      sample(after, 'voice_engine_provider_requests_total', { kind: 'llm', provider: 'scripted-llm' }),
    ).toBeGreaterThanOrEqual(llmBefore + 1);
    expect(
      sample(after, 'voice_engine_provider_requests_total', { kind: 'asr', provider: 'scripted-asr' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(after, 'voice_engine_provider_requests_total', { kind: 'tts', provider: 'scripted-tts' }),
    ).toBeGreaterThanOrEqual(1);
    // API requests by route template (never the raw URL with its keys and ids).
    expect(
      sample(after, 'voice_engine_api_requests_total', { route: '/api/v1/assistants', method: 'POST', status: '201' }),
    ).toBe(1);
    expect(after).not.toContain(astKey);
    // Media counters and the pacer-lag histogram moved; event-loop lag is exported.
    expect(sample(after, 'voice_engine_media_frames_in_total')).toBeGreaterThan(0);
    expect(sample(after, 'voice_engine_pacer_lag_ms_count')).toBeGreaterThan(0);
    expect(after).toContain('nodejs_eventloop_lag_seconds');

    // Spans: call -> turn -> stages, all in one trace.
    await until(() => exporter.getFinishedSpans().some((s) => s.name === 'call'), 'call span');
    const spans = exporter.getFinishedSpans();
    const callSpan = spans.find((s) => s.name === 'call') as ReadableSpan;
    expect(callSpan.attributes['call.protocol']).toBe('twilio');
    expect(callSpan.attributes['call.outcome']).toBe('completed');
    const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
    const turns = spans.filter((s) => s.name === 'turn' && parentOf(s) === callSpan.spanContext().spanId);
    expect(turns.length).toBeGreaterThanOrEqual(1);
    const answered = turns.find((t) => typeof t.attributes['turn.voice_to_voice_ms'] === 'number');
    expect(answered).toBeDefined();
    const stages = spans.filter((s) => parentOf(s) === answered!.spanContext().spanId).map((s) => s.name);
    expect(stages).toContain('llm');
    expect(stages).toContain('endpointing');
    for (const s of spans.filter((x) => x.name !== 'webhook')) {
      expect(s.spanContext().traceId).toBe(callSpan.spanContext().traceId);
    }

    // The call.ended webhook carries a traceparent in the call's trace.
    await until(async () => {
      await engine.webhooks.flush();
      return deliveries.length > 0;
    }, 'webhook delivered');
    const tp = String(deliveries[0]!.headers.traceparent ?? '');
    expect(tp).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(tp.split('-')[1]).toBe(callSpan.spanContext().traceId);
    const webhookSpan = exporter.getFinishedSpans().find((s) => s.name === 'webhook');
    expect(webhookSpan?.spanContext().traceId).toBe(callSpan.spanContext().traceId);
  });
});
