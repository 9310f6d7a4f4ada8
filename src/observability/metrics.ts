import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics for one engine process (prom-client, one Registry per engine so that tests can run several
 * engines in one process). Label sets are bounded: protocol, outcome, provider kind/id, route template, status
 * class, metric stage; never a call id, a tenant id or a phone number.
 *
 * Latency histograms are in milliseconds (the unit the call record uses), with buckets from 10 ms to 10 s.
 */
export const TURN_STAGES = [
  'endpointing',
  'asr_final',
  'llm_first_token',
  'tts_first_byte',
  'voice_to_voice',
  'barge_in',
] as const;
export type TurnStage = (typeof TURN_STAGES)[number];

const LATENCY_BUCKETS_MS = [10, 25, 50, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000];

/** Values read at scrape time from the parts that own them (gateway counters, store queue depths). */
export interface MetricsSources {
  gateway?: () => { framesIn: number; framesOut: number; dropped: number; malformed: number } | undefined;
  outboxDepth?: () => Promise<number>;
  outboundQueueDepth?: () => Promise<number>;
  /**
   * Labels on every series: under `serve --workers` each worker answers /metrics on the shared port for itself only,
   * so its series carry `worker` (its ordinal) to tell one scrape from another (bench load --workers merges them).
   */
  labels?: Record<string, string>;
}

export interface EngineMetrics {
  readonly registry: Registry;
  callStarted(protocol: string): void;
  callEnded(protocol: string, outcome: string): void;
  turnLatency(stage: TurnStage, ms: number): void;
  providerRequest(kind: string, provider: string): void;
  providerIncident(kind: string, provider: string, action: 'retry' | 'fallback' | 'failed'): void;
  toolCall(ok: boolean, ms: number | undefined): void;
  knowledgeLookup(ms: number): void;
  webhookAttempt(ok: boolean, ms: number): void;
  pacerTick(lateMs: number): void;
  apiRequest(route: string, method: string, status: number, ms: number): void;
  /** Prometheus text exposition. */
  render(): Promise<string>;
  readonly contentType: string;
}

/** Maps a running total owned elsewhere onto a prom-client counter at scrape time (counters only go up). */
function totalCounter(registry: Registry, name: string, help: string, read: () => number | undefined): Counter<string> {
  let last = 0;
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now === undefined) return;
      if (now > last) this.inc(now - last);
      last = Math.max(last, now);
    },
  });
}

export function createMetrics(sources: MetricsSources = {}): EngineMetrics {
  const registry = new Registry();
  if (sources.labels) registry.setDefaultLabels(sources.labels);
  // Process metrics, including nodejs_eventloop_lag_seconds (event-loop lag) and GC pause histograms.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });

  const activeCalls = new Gauge({
    name: 'voice_engine_active_calls',
    help: 'Calls in progress on this engine, by wire protocol',
    labelNames: ['protocol'],
    registers: [registry],
  });
  const callsTotal = new Counter({
    name: 'voice_engine_calls_total',
    help: 'Calls ended, by wire protocol and outcome (completed, failed, ...)',
    labelNames: ['protocol', 'outcome'],
    registers: [registry],
  });
  const turnLatency = new Histogram({
    name: 'voice_engine_turn_latency_ms',
    help: 'Per-turn latency by stage, ms (voice_to_voice: end of caller speech to first agent audio)',
    labelNames: ['stage'],
    buckets: LATENCY_BUCKETS_MS,
    registers: [registry],
  });
  const providerRequests = new Counter({
    name: 'voice_engine_provider_requests_total',
    help: 'Provider requests (ASR streams, LLM completions, TTS syntheses), by kind and configured provider',
    labelNames: ['kind', 'provider'],
    registers: [registry],
  });
  const providerIncidents = new Counter({
    name: 'voice_engine_provider_incidents_total',
    help: 'Provider errors by kind, provider and what the engine did (retry, fallback, failed)',
    labelNames: ['kind', 'provider', 'action'],
    registers: [registry],
  });
  const toolCalls = new Counter({
    name: 'voice_engine_tool_calls_total',
    help: 'Tool calls by result',
    labelNames: ['result'],
    registers: [registry],
  });
  const toolLatency = new Histogram({
    name: 'voice_engine_tool_latency_ms',
    help: 'Tool call latency, ms',
    buckets: LATENCY_BUCKETS_MS,
    registers: [registry],
  });
  const knowledge = new Histogram({
    name: 'voice_engine_knowledge_lookup_ms',
    help: 'Knowledge base lookup latency during calls, ms',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
    registers: [registry],
  });
  const webhookAttempts = new Counter({
    name: 'voice_engine_webhook_attempts_total',
    help: 'Webhook delivery attempts by result',
    labelNames: ['result'],
    registers: [registry],
  });
  const webhookLatency = new Histogram({
    name: 'voice_engine_webhook_delivery_ms',
    help: 'Webhook delivery attempt latency, ms',
    buckets: LATENCY_BUCKETS_MS,
    registers: [registry],
  });
  const pacerLag = new Histogram({
    name: 'voice_engine_pacer_lag_ms',
    help: 'Lateness of each tick of the shared outbound pacing clock vs its schedule, ms',
    buckets: [0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 100, 250],
    registers: [registry],
  });
  const apiRequests = new Counter({
    name: 'voice_engine_api_requests_total',
    help: 'Control API requests by route template, method and status code',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const apiLatency = new Histogram({
    name: 'voice_engine_api_request_ms',
    help: 'Control API request latency by route template, ms',
    labelNames: ['route'],
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
    registers: [registry],
  });
  const gw = sources.gateway;
  totalCounter(registry, 'voice_engine_media_frames_in_total', 'Inbound media frames', () => gw?.()?.framesIn);
  totalCounter(registry, 'voice_engine_media_frames_out_total', 'Outbound media frames', () => gw?.()?.framesOut);
  totalCounter(
    registry,
    'voice_engine_media_frames_dropped_total',
    'Outbound frames dropped (queue overflow, peer not reading)',
    () => gw?.()?.dropped,
  );
  totalCounter(
    registry,
    'voice_engine_media_malformed_total',
    'Malformed media messages counted and skipped',
    () => gw?.()?.malformed,
  );
  const depthGauge = (name: string, help: string, read: (() => Promise<number>) | undefined) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        if (read) this.set(await read());
      },
    });
  depthGauge('voice_engine_webhook_outbox_depth', 'Webhook deliveries waiting in the outbox', sources.outboxDepth);
  depthGauge(
    'voice_engine_outbound_queue_depth',
    'Outbound calls queued and not yet dialled',
    sources.outboundQueueDepth,
  );

  return {
    registry,
    contentType: registry.contentType,
    callStarted: (protocol) => activeCalls.inc({ protocol }),
    callEnded: (protocol, outcome) => {
      activeCalls.dec({ protocol });
      callsTotal.inc({ protocol, outcome });
    },
    turnLatency: (stage, ms) => turnLatency.observe({ stage }, ms),
    providerRequest: (kind, provider) => providerRequests.inc({ kind, provider }),
    providerIncident: (kind, provider, action) => providerIncidents.inc({ kind, provider, action }),
    toolCall: (ok, ms) => {
      toolCalls.inc({ result: ok ? 'ok' : 'error' });
      if (ms !== undefined) toolLatency.observe(ms);
    },
    knowledgeLookup: (ms) => knowledge.observe(ms),
    webhookAttempt: (ok, ms) => {
      webhookAttempts.inc({ result: ok ? 'ok' : 'error' });
      webhookLatency.observe(ms);
    },
    pacerTick: (lateMs) => pacerLag.observe(Math.max(0, lateMs)),
    apiRequest: (route, method, status, ms) => {
      apiRequests.inc({ route, method, status: String(status) });
      apiLatency.observe({ route }, ms);
    },
    render: () => registry.metrics(),
  };
}
