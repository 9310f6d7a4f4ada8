/**
 * The engine side of `bench load --mode full`: every call runs the whole path of a real call, in this process:
 * the media gateway (Twilio protocol), a CallSession with the VAD (WebRTC, the default), the DTMF detector and the
 * tone guard, streaming ASR through the real Deepgram adapter over a real WebSocket to the loopback Deepgram fake
 * (bench/fakes/deepgram.ts, energy segmentation; it runs in the CLIENT process so that its CPU is not counted as
 * the engine's), the `rules` LLM, a scripted TTS (bench/scripted.ts) with the profile's first-byte latency, the
 * shared-clock pacer, and call recording (stereo WAV) on.
 *
 * Inbound lag is read off each call's wire tap (MediaLeg.setWireTap: every inbound message with its arrival time):
 * the arrival of media chunk i minus the client's schedule for it (t0 + 20 ms x i), as in echo mode.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AssistantConfig } from '../src/assistant.js';
import { startLocalEngine } from '../src/call/local-engine.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { createProviderRegistry } from '../src/providers/registry.js';
import type { GatewayLimits } from '../src/telephony/gateway-types.js';
import type { Pacer } from '../src/telephony/pacer.js';
import { jitterOf, type ProviderProfile } from './profiles.js';
import { ScriptedTts } from './scripted.js';

export interface FullEngine {
  port: number;
  /** Outbound frames the engine dropped, and inbound chunks that never arrived (sequence gaps in the taps). */
  dropped(): { engine: number; inboundMissing: number };
  pacerMaxLateMs(): number;
  turnsCommitted(): number;
  close(): Promise<void>;
}

const REPLY = 'Sure. Let me look into that for you, it will only take a moment.';

export async function startFullEngine(o: {
  profile: ProviderProfile;
  deepgramUrl: string;
  /** Media limits of the gateway (the bench's one client IP needs a per-IP pending cap of at least its calls). */
  limits?: Partial<GatewayLimits>;
  /** The shared pacing clock (the bench's, recording its tick lateness). */
  pacer?: Pacer;
  /** Called for each inbound media chunk: its index and arrival (wall clock ms), with the leg's client t0. */
  onChunk(t0Client: number, index: number, arrivedWallMs: number): void;
}): Promise<FullEngine> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 've-bench-load-full-'));
  const config = loadConfig({ ...process.env, DEEPGRAM_API_KEY: 'dg-test', DEEPGRAM_BASE_URL: o.deepgramUrl });
  const registry = createProviderRegistry(config, silentLogger);
  const tts = new ScriptedTts({
    firstByteMs: o.profile.ttsFirstByteMs,
    msPerChar: 60,
    jitter: jitterOf(o.profile, 17),
  });
  const assistant: AssistantConfig = {
    firstMessage: 'Hello, this is Acme. How can I help?',
    asr: { provider: 'deepgram' },
    llm: { provider: 'rules', rules: [], fallbackReply: REPLY },
    dtmf: { enabled: true },
    settings: { recordAudio: true, silenceTimeoutMs: 60_000 },
  };
  const engine = await startLocalEngine({
    assistant: {
      id: 'ag_load_full',
      assistantApiKey: 'ast_load',
      tenantId: 't_load',
      config: assistant,
      version: 1,
      createdAt: '',
      updatedAt: '',
    },
    providers: { asr: (c, h) => registry.asr(c, h), llm: (c, h) => registry.llm(c, h), tts: () => tts },
    logger: silentLogger,
    dataDir,
    ...(o.limits ? { limits: o.limits } : {}),
    ...(o.pacer ? { pacer: o.pacer } : {}),
  });
  // Taps go on each call once its session has set (or cleared) its own: polled, not per frame.
  const tapped = new WeakSet<object>();
  const spans: { first: number; last: number; count: number }[] = [];
  const poll = setInterval(() => {
    for (const c of engine.calls) {
      if (tapped.has(c.leg) || !c.leg.setWireTap) continue;
      tapped.add(c.leg);
      const t0 = Number(c.leg.info.customParameters.t0);
      const span = { first: -1, last: -1, count: 0 };
      spans.push(span);
      c.leg.setWireTap((data, atMs) => {
        if (typeof data !== 'string' || !data.startsWith('{"event":"media"')) return;
        const at = data.indexOf('"chunk":"');
        if (at < 0) return;
        const index = Number.parseInt(data.slice(at + 9, at + 19), 10) - 1;
        if (span.first < 0) span.first = index;
        span.last = index;
        span.count++;
        o.onChunk(t0, index, performance.timeOrigin + atMs);
      });
    }
  }, 50);
  return {
    port: engine.port,
    dropped: () => ({
      engine: engine.gateway.stats().dropped,
      inboundMissing: spans.reduce((n, s) => n + (s.first < 0 ? 0 : s.last - s.first + 1 - s.count), 0),
    }),
    pacerMaxLateMs: () => engine.gateway.stats().pacerMaxLateMs,
    turnsCommitted: () =>
      engine.calls.reduce(
        (n, c) => n + c.events.filter((e) => e.type === 'state' && e.data.state === 'thinking').length,
        0,
      ),
    async close() {
      clearInterval(poll);
      await engine.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
