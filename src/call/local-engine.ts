import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Assistant } from '../assistant.js';
import type { Logger } from '../log.js';
import { attachGateway, type ControlFor, type Gateway } from '../telephony/gateway.js';
import type { GatewayLimits } from '../telephony/gateway-types.js';
import type { MediaLeg } from '../telephony/leg.js';
import type { Pacer } from '../telephony/pacer.js';
import { createToolRegistry } from '../tools/registry.js';
import type { CallPatch, CallSink, CallSummary, ProviderRegistryLike, SessionDeps } from './deps.js';
import { CallSession } from './session.js';

/**
 * A single-assistant engine in this process: HTTP server + media gateway + call sessions, no store and no API.
 * `voice-engine replay` (when no --url is given), the latency bench and the gateway-level session tests use it.
 * Every stream gets `assistant`, whatever key it presents. The full engine is src/engine.ts (createEngine); this is
 * the one place to swap to it when replay needs tenants and the store.
 */
export interface LocalEngineOptions {
  assistant: Assistant;
  providers: ProviderRegistryLike;
  logger: Logger;
  dataDir: string;
  host?: string;
  /** Extra session deps (createVad, retriever, now...). */
  deps?: Partial<SessionDeps>;
  /** Pacing lead of the gateway, ms. */
  leadMs?: number;
  /** The shared pacing clock (the load bench injects one that records its tick lateness). Default: the gateway's. */
  pacer?: Pacer;
  /** Other media limits of the gateway (the load bench raises the per-IP cap on sockets still connecting). */
  limits?: Partial<GatewayLimits>;
  /** The platform's REST call control for protocols whose socket cannot hang up or transfer (as src/engine.ts). */
  control?: ControlFor;
}

export interface LocalCall {
  session: CallSession;
  leg: MediaLeg;
  events: { type: string; data: Record<string, unknown>; at: number }[];
  record: CallPatch;
  summary?: CallSummary;
}

export interface LocalEngine {
  readonly port: number;
  url(protocol: string): string;
  readonly calls: LocalCall[];
  readonly gateway: Gateway;
  /** The next ended call (in order of ending) not yet returned, waiting for one if need be. */
  nextEnded(): Promise<LocalCall>;
  close(): Promise<void>;
}

export async function startLocalEngine(o: LocalEngineOptions): Promise<LocalEngine> {
  const server = http.createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const calls: LocalCall[] = [];
  const waiters: ((c: LocalCall) => void)[] = [];
  const endedQueue: LocalCall[] = [];
  const tools = createToolRegistry();
  const gateway = attachGateway(server, {
    logger: o.logger,
    limits: { ...o.limits, ...(o.leadMs !== undefined ? { leadMs: o.leadMs } : {}) },
    ...(o.control ? { control: o.control } : {}),
    ...(o.pacer ? { pacer: o.pacer } : {}),
    resolve: async () => ({ ok: true, call: { tenantId: o.assistant.tenantId, assistant: o.assistant } }),
    onCall: (leg, call) => {
      const c: LocalCall = { leg, events: [], record: {}, session: undefined as unknown as CallSession };
      const sink: CallSink = {
        event: (type, data) => {
          c.events.push({ type, data, at: performance.now() });
          o.logger.debug({ callId: leg.info.callId, event: type, ...data }, 'call event');
        },
        update: (patch) => Object.assign(c.record, patch),
      };
      c.session = new CallSession({
        leg,
        assistant: call.assistant,
        deps: {
          providers: o.providers,
          tools,
          sink,
          logger: o.logger,
          dataDir: o.dataDir,
          ...o.deps,
          onEnded: (s) => {
            c.summary = s;
            o.deps?.onEnded?.(s);
            call.release?.();
            const w = waiters.shift();
            if (w) w(c);
            else endedQueue.push(c);
          },
        },
      });
      calls.push(c);
      c.session.start().catch((err: unknown) => {
        o.logger.error({ err, callId: leg.info.callId }, 'call session failed to start');
        void leg.hangup('error: session start failed');
      });
    },
  });
  // Silero (settings.vad, the default) compiles ~15 MB of wasm on first use (~1 s of CPU): done before the first
  // call rather than during its greeting. A failure here is the call's to report (it falls back to WebRTC alone).
  if (!o.deps?.createVad && (o.assistant.config.settings?.vad ?? 'silero') === 'silero') {
    await import('../audio/silero.js').then((m) => m.loadSilero()).catch(() => undefined);
  }
  await new Promise<void>((r) => server.listen(0, o.host ?? '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (protocol) => `ws://${o.host ?? '127.0.0.1'}:${port}/media/${protocol}`,
    calls,
    gateway,
    nextEnded: () => {
      const done = endedQueue.shift();
      return done ? Promise.resolve(done) : new Promise((r) => waiters.push(r));
    },
    async close() {
      await gateway.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
