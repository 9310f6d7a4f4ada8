import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { buildApp } from './api/app.js';
import { ensureFirstTenant } from './api/auth.js';
import { parseTrustProxy, upgradeClientIp } from './api/client-ip.js';
import { createRecordingLinks, recordingLinkFields } from './api/recording-link.js';
import { eventRoutes } from './api/routes/events.js';
import { ragRoutes } from './api/routes/rag.js';
import { createStoreLimiter } from './api/shared-rate-limit.js';
import type { Assistant } from './assistant.js';
import { MULAW_8K, PCM_16K } from './audio/format.js';
import { toolResponseRow } from './call/analytics-rows.js';
import type { CallPatch, CallSink, CallSummary } from './call/deps.js';
import { warmGreeting } from './call/greeting.js';
import { CallSession } from './call/session.js';
import { type CallBinding, createResolver } from './call-admission.js';
import { callFiles, storeCallFiles } from './call-files.js';
import { type CallRecoveryDeps, finishReapedCall } from './call-recovery.js';
import { createPlatformControl } from './channels/call-control.js';
import { createChannelDialer } from './channels/dialer.js';
import { createMessaging } from './channels/messaging.js';
import { createSimulatedDialer } from './channels/simulated.js';
import { startSipRegistrations } from './channels/sip-trunk.js';
import { type Presence, startPresence } from './cluster/presence.js';
import { workerOrdinal } from './cluster/workers.js';
import { createLogger } from './log.js';
import { createGuardedFetch } from './net/egress.js';
import { createObservability } from './observability/index.js';
import { startMetricsServer } from './observability/metrics-http.js';
import { createProviderRegistry } from './providers/registry.js';
import { createRetriever, openKnowledgeBase } from './rag/index.js';
import { createAdmission } from './sip/admission.js';
import { type SipServer, startSipServer } from './sip/server.js';
import { readSipTls } from './sip/tls.js';
import { createFileStorage } from './storage/index.js';
import { knowledgeTarget } from './storage/knowledge.js';
import { type CallStatus, connectStore } from './store/index.js';
import type { CallControl } from './telephony/call-control.js';
import { attachGateway, type Gateway, type ResolvedCall } from './telephony/gateway.js';
import type { MediaLeg } from './telephony/leg.js';
import { Pacer } from './telephony/pacer.js';
import { createToolRegistry } from './tools/registry.js';
import { createWebhookDispatcher } from './webhooks/dispatcher.js';

/**
 * The composition root (STYLE.md 10): wires config, store, providers, knowledge base, tools, webhooks, the control
 * API and the media gateway onto one HTTP server. Nothing else constructs these; tests and `voice-engine serve`
 * call createEngine().
 *
 *   telephony ──ws──▶ gateway ──resolve()──▶ store (assistant, IP allowlist, call limits, call record)
 *                        └──onCall(leg)──▶ CallSession ──▶ providers / tools / knowledge base
 *                                              └── CallSink ──▶ store.calls (written as the call goes)
 *                                              └── onEnded ──▶ webhooks outbox (call.ended)
 *
 * The process holds only live-call state (DESIGN.md 9): assistants are read from the store per call and re-read
 * between turns when their version changes, so a change made through any engine process reaches every live call.
 */
export type { Engine, EngineOptions } from './engine-types.js';

/** Wire formats whose greeting audio is synthesized ahead of calls: mu-law 8 kHz (Twilio, Telnyx, Plivo, Asterisk
 * ulaw) and PCM 16 kHz (Vonage, native, jambonz, FreeSWITCH). Other formats are cached by their first call. */
const GREETING_FORMATS = [MULAW_8K, PCM_16K] as const;

import type { Engine, EngineOptions } from './engine-types.js';

export async function createEngine(opts: EngineOptions): Promise<Engine> {
  const { config } = opts;
  const logger = opts.logger ?? createLogger(config.logLevel);
  await mkdir(config.dataDir, { recursive: true });
  const store = await connectStore({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    secretsKey: config.secretsKey,
    secretsKeyPrevious: config.secretsKeyPrevious,
  });
  if (config.databaseUrl && !config.secretsKey) {
    logger.warn(
      'DATABASE_URL without SECRETS_KEY: other engines on this database cannot open the secrets this one seals',
    );
  }
  const first = await ensureFirstTenant(store, config, opts.print ?? ((l) => process.stdout.write(`${l}\n`)));
  const providers = opts.providers ?? createProviderRegistry(config, logger);
  // The gateway is attached after the app exists (it shares the app's HTTP server); sources read it lazily.
  let gateway: Gateway | undefined;
  let sip: SipServer | undefined;
  let sipRegistrations: { stop(): void } | undefined;
  const obs = createObservability({
    ...(opts.spanExporter ? { exporter: opts.spanExporter } : {}),
    sources: {
      gateway: () => gateway?.stats(),
      outboxDepth: () => store.webhooks.countPending(),
      outboundQueueDepth: () => store.outbound.countQueued(),
      ...(workerOrdinal() === undefined ? {} : { labels: { worker: String(workerOrdinal()) } }),
    },
  });
  const metricsEndpoint = () => obs.endpoint(config.metricsToken);
  // Sessions get providers that count their requests; `engine.providers` stays the registry as configured.
  const callProviders = obs.meter(providers);
  const kb = await openKnowledgeBase({
    // DATA_DIR/lancedb, or KNOWLEDGE_URI (s3://… with storage options) shared by every engine.
    ...knowledgeTarget(process.env, config.dataDir),
    embed: providers.embed(),
    logger,
    onRetrieval: (e) => {
      // Speculative lookups on ASR partials are not retrievals the caller's turn used.
      if (e.prefetch) return;
      store.analytics
        .record(e.tenantId, 'rag', {
          collections: e.collections.join(','),
          query: e.query,
          hits: e.hits,
          topScore: e.topScore ?? null,
          ms: Math.round(e.ms * 100) / 100,
          mode: e.mode,
        })
        .catch((err: unknown) => logger.warn({ err }, 'rag analytics write failed'));
    },
  });
  const tools = createToolRegistry({ mcpServers: config.mcpServers });
  // Every request to a tenant-supplied URL (webhooks, carrier base URLs) goes through the SSRF guard.
  const guardedFetch = createGuardedFetch(config.egress);
  const recordingLinks = createRecordingLinks(config);
  // Finished recordings and wire logs: DATA_DIR, or the bucket all engines share (FILE_STORAGE=s3, src/storage).
  const files = opts.files ?? createFileStorage(process.env, config.dataDir);
  const webhooks = createWebhookDispatcher({
    store,
    logger,
    fetch: guardedFetch,
    observe: obs.webhookAttempt,
  });
  const { sms, whatsapp, whatsappInbound } = createMessaging({
    store,
    fetch: guardedFetch,
    logger,
    tools,
    webhooks,
    agent: {
      llm: (cfg) => callProviders.llm(cfg),
      retriever: (tenantId, a) => createRetriever(kb, tenantId, a.config.rag),
    },
  });
  const sessions = new Map<string, CallSession>();
  /** Where this engine listens, for the simulated carrier's streams (test mode). */
  let selfUrl: string | undefined;
  /**
   * Live legs by call id, as the one call-control interface (src/telephony/call-control.ts): where control messages
   * from any engine's API land (src/cluster/presence.ts).
   */
  const legs = new Map<string, CallControl>();
  /** Call-record and webhook writes not yet done: close() waits for them before closing the store. */
  const pendingWrites = new Set<Promise<unknown>>();
  const bindings = new WeakMap<ResolvedCall, CallBinding>();
  let draining = false;
  const recovery: CallRecoveryDeps = {
    calls: store.calls,
    webhooks,
    logger,
    dataDir: config.dataDir,
    files,
    recordingLink: (id) => recordingLinkFields(recordingLinks.url(id)),
  };
  const presence: Presence = await startPresence({
    store,
    logger,
    exclusive: !store.shared,
    ...(opts.heartbeatMs ? { heartbeatMs: opts.heartbeatMs } : {}),
    ...(opts.deadAfterMs ? { deadAfterMs: opts.deadAfterMs } : {}),
    onControl: (msg) => {
      const leg = legs.get(msg.callId);
      if (!leg) return;
      if (msg.op === 'config') {
        void sessions.get(msg.callId)?.assistantChanged();
        return;
      }
      logger.info({ callId: msg.callId, op: msg.op }, 'call control from the API');
      // Through the session when there is one, so the record says who ended the call (endedBy 'api').
      const session = sessions.get(msg.callId);
      if (msg.op === 'hangup' && session) void session.hangupBy('api', msg.reason ?? 'api').catch(() => {});
      else if (msg.op === 'hangup') void leg.hangup(msg.reason ?? 'api').catch(() => {});
      else if (msg.op === 'transfer' && msg.target) void leg.transfer(msg.target, msg.mode ?? 'cold').catch(() => {});
    },
    // Recording finalized from disk, duration, call.failed with the schema's fields (src/call-recovery.ts).
    onReaped: (c) => finishReapedCall(recovery, c),
  });

  const app = await buildApp({
    config,
    store,
    logger,
    files,
    providers,
    tools,
    engineId: presence.id,
    // Engines sharing a database share one rate budget; one embedded engine keeps its in-process buckets.
    ...(store.shared ? { rateLimiter: createStoreLimiter(store.rateCounters, config.rateLimitPerMinute) } : {}),
    extraRoutes: [ragRoutes(kb), eventRoutes(obs)],
    knowledge: kb,
    webhooks,
    dialer: createChannelDialer({
      store,
      publicUrl: config.publicUrl,
      fetch: guardedFetch,
      egress: config.egress,
      sip: { sip: () => sip, webhooks, logger },
      simulated: createSimulatedDialer({ selfUrl: () => selfUrl, logger }),
    }),
    whatsapp,
    whatsappInbound,
    sms,
    observe: {
      request: (route, method, status, ms) => obs.metrics.apiRequest(route, method, status, ms),
      ...(config.metricsPort === undefined ? { endpoint: metricsEndpoint() } : {}),
    },
    live: {
      activeCalls: () => (gateway?.activeCalls ?? 0) + (sip?.activeCalls ?? 0),
      draining: () => draining,
      // A runtime PATCH: live calls of the assistant on this engine apply it at once (their next utterance or
      // clause), calls on other engines hear of it over the control channel; the new greeting is synthesized now so
      // the next call's first words are already in the cache (fast greeting).
      applyAssistantChange: (assistantId) => {
        for (const s of sessions.values()) if (s.assistantId === assistantId) void s.assistantChanged();
        void store.assistants.findById(assistantId).then(async (a) => {
          if (!a) return;
          if (store.shared) void relayAssistantChange(a.tenantId, assistantId);
          const r = await warmGreeting(a, providers.tts(a.config.tts), GREETING_FORMATS);
          if (r.error) logger.warn({ assistantId, err: r.error }, 'greeting warm-up failed');
        });
      },
    },
  });

  /** Tell the engines carrying live calls of an assistant that it changed (op `config` on the control channel). */
  async function relayAssistantChange(tenantId: string, assistantId: string): Promise<void> {
    try {
      const { rows } = await store.calls.list(tenantId, { assistantId, status: 'in-progress', limit: 500 });
      for (const c of rows)
        if (c.ownerId && c.ownerId !== presence.id)
          await store.control.publish({ to: c.ownerId, callId: c.id, op: 'config' });
    } catch (err) {
      logger.warn({ err: (err as Error).message, assistantId }, 'live config relay failed');
    }
  }

  const resolve = createResolver({
    store,
    config,
    engineId: presence.id,
    recovery,
    logger,
    bindings,
    track: (p) => {
      pendingWrites.add(p);
      void p.finally(() => pendingWrites.delete(p));
    },
  });

  function onCall(leg: MediaLeg, call: ResolvedCall): void {
    const binding = bindings.get(call);
    if (!binding) {
      void leg.hangup('internal: unresolved call');
      return;
    }
    binding.session = true;
    const { recordId, tenantId } = binding;
    const log = logger.child({ callId: recordId, protocol: leg.info.protocol });
    // Writes are ordered per call and never block the media path; a failed write is logged, not thrown.
    let writes: Promise<unknown> = Promise.resolve();
    const enqueueWrite = (fn: () => Promise<unknown>) => {
      const next = writes.then(fn).catch((err: unknown) => log.warn({ err }, 'call record write failed'));
      writes = next;
      pendingWrites.add(next);
      void next.finally(() => pendingWrites.delete(next));
    };
    void store.calls.update(recordId, { providerCallId: leg.info.callId });
    legs.set(recordId, leg);
    const keepConversation = call.assistant.config.hangup?.saveConversation?.enabled !== false;
    const recordSink: CallSink = {
      event: (type, data) => {
        // save-conversation disabled: the transcript is not stored (nor the recording: the session records nothing).
        if (type === 'transcript' && !keepConversation) return;
        enqueueWrite(() => store.calls.appendEvent(recordId, type, data));
        const row = type === 'tool' ? toolResponseRow(recordId, call.assistant.id, data) : undefined;
        if (row) enqueueWrite(() => store.analytics.record(tenantId, 'tool', row));
      },
      update: (patch: CallPatch) =>
        enqueueWrite(() => store.calls.update(recordId, { ...patch, status: patch.status as CallStatus | undefined })),
    };
    let version = call.assistant.version;
    const assistantId = call.assistant.id;
    const loadAssistant = async (): Promise<Assistant | undefined> => {
      const v = await store.assistants.getVersion(assistantId);
      if (v === undefined || v === version) return undefined;
      const next = await store.assistants.get(tenantId, assistantId);
      if (next) version = next.version;
      return next;
    };
    const observed = obs.call(
      {
        callId: recordId,
        tenantId,
        assistantId: call.assistant.id,
        protocol: leg.info.protocol,
        direction: typeof binding.metadata.direction === 'string' ? binding.metadata.direction : undefined,
      },
      recordSink,
      log,
    );
    const sink = observed.sink;
    const rag = call.assistant.config.rag;
    const session = new CallSession({
      leg,
      assistant: call.assistant,
      outbound: binding.outbound,
      variables: Object.fromEntries(
        Object.entries(binding.metadata).filter((e): e is [string, string] => typeof e[1] === 'string'),
      ),
      deps: {
        providers: callProviders,
        tools,
        sink,
        logger: log,
        dataDir: config.dataDir,
        // Named by our record id under the tenant's directory; the carrier's call id is data, never a path.
        files: callFiles(config.dataDir, tenantId, recordId),
        toolScope: {
          tenantId,
          callRecordId: recordId,
          assistantId,
          ...(binding.party ? { party: binding.party } : {}),
        },
        retriever: observed.retriever(rag?.collections?.length ? createRetriever(kb, tenantId, rag) : undefined),
        loadAssistant,
        onEnded: (summary: CallSummary) => {
          sessions.delete(recordId);
          legs.delete(recordId);
          call.release?.();
          observed.ended(summary, summary.endReason.startsWith('error') ? 'failed' : 'completed');
          // Server paths stay on the server: the webhook carries a signed recording link instead.
          // The summary's callId is the carrier's: as `callId` it would overwrite call_id once keys are snake_cased.
          const { recordingPath, wirePath: _wire, callId: providerCallId, ...shared } = summary;
          enqueueWrite(async () => {
            // Before the webhook, so its recording link works from any engine the moment it arrives.
            await storeCallFiles(files, config.dataDir, tenantId, recordId).catch((err: unknown) =>
              log.warn({ err: (err as Error).message }, 'call files not stored'),
            );
            await store.calls.update(recordId, {
              status: summary.endReason.startsWith('error') ? 'failed' : 'completed',
            });
            await webhooks.enqueue(tenantId, summary.endReason.startsWith('error') ? 'call.failed' : 'call.ended', {
              call_id: recordId,
              provider_call_id: providerCallId,
              assistant_id: assistantId,
              ...shared,
              transcript: keepConversation ? shared.transcript : [],
              // Absolute, signed and expiring (src/api/recording-link.ts): fetchable without portal credentials.
              ...recordingLinkFields(recordingPath ? recordingLinks.url(recordId) : undefined),
            });
          });
        },
      },
    });
    sessions.set(recordId, session);
    enqueueWrite(() =>
      webhooks.enqueue(tenantId, 'call.started', {
        call_id: recordId,
        assistant_id: assistantId,
        protocol: leg.info.protocol,
        from: leg.info.from,
        to: leg.info.to,
      }),
    );
    session.start().catch((err: unknown) => {
      log.error({ err }, 'call session failed to start');
      void leg.hangup('error: session start failed');
    });
  }

  // Hangup / transfer over the platform's REST API where the socket has no such message (Telnyx, Plivo, Vonage...).
  const control = createPlatformControl({ store, logger, publicUrl: config.publicUrl, fetch: guardedFetch });
  // The one pacing clock of this process; its per-tick lateness feeds the pacer-lag histogram.
  const pacer = new Pacer(opts.observe === false ? {} : { onTickLate: (late) => obs.metrics.pacerTick(late) });
  gateway = attachGateway(app.server, {
    resolve,
    onCall,
    logger,
    control,
    pacer,
    limits: config.mediaLimits,
    clientIp: upgradeClientIp(parseTrustProxy(config.trustProxy)),
  });
  const startSip = async (): Promise<void> => {
    if (!config.sip || sip) return;
    sip = await startSipServer({
      host: config.sip.host,
      port: config.sip.port,
      rtp: { min: config.sip.rtpPortMin, max: config.sip.rtpPortMax },
      logger,
      pacer,
      leadMs: 80,
      admit: createAdmission({
        tenantOfNumber: async (n) => (await store.numberRouting.resolve(n))?.tenantId,
        allowedIps: (t) => store.account.getAllowedIps(t),
        credentials: async (t) => {
          const p = await store.account.getPlugin(t, 'sip');
          const { username, password } = p?.status === 'active' ? p.config : {};
          return typeof username === 'string' && typeof password === 'string' ? { username, password } : undefined;
        },
      }),
      resolve,
      onCall,
      ...(config.sip.tls ? { tls: await readSipTls(config.sip.tls) } : {}),
    });
    sipRegistrations = startSipRegistrations({ store, sip, logger });
  };
  webhooks.start();

  let closing: Promise<void> | undefined;
  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  const engine: Engine = {
    config,
    logger,
    store,
    providers,
    kb,
    tools,
    webhooks,
    observability: obs,
    app,
    gateway,
    get sip() {
      return sip;
    },
    sessions,
    firstTenantId: first?.tenantId,
    async listen(o = {}) {
      const host = o.host ?? config.host;
      await app.listen({ port: o.port ?? config.port, host });
      await startSip();
      const port = (app.server.address() as AddressInfo).port;
      const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
      if (config.metricsPort !== undefined && !metricsServer) {
        metricsServer = await startMetricsServer(metricsEndpoint(), config.metricsPort, host);
      }
      selfUrl = `http://${shown}:${port}`;
      return { port, url: selfUrl, ...(metricsServer ? { metricsPort: metricsServer.port } : {}) };
    },
    close() {
      closing ??= (async () => {
        draining = true;
        gateway?.drain();
        sip?.drain();
        const deadline = Date.now() + (opts.drainTimeoutMs ?? 0);
        while (sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        await gateway?.close();
        sipRegistrations?.stop();
        await sip?.close();
        await Promise.allSettled([...sessions.values()].map((s) => s.done));
        while (pendingWrites.size > 0) await Promise.allSettled([...pendingWrites]);
        await whatsappInbound.idle();
        await webhooks.stop();
        await presence.stop();
        await app.close();
        await metricsServer?.close();
        pacer.stop();
        await obs.close();
        await kb.close();
        await store.close();
      })();
      return closing;
    },
  };
  return engine;
}
