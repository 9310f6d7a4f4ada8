import type { CallSink, CallSummary, Retriever } from '../call/deps.js';
import type { Logger } from '../log.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { meterProviders } from './metered-providers.js';
import { createMetrics, type EngineMetrics, type MetricsSources, type TurnStage } from './metrics.js';
import type { MetricsEndpoint } from './metrics-http.js';
import { type CallTrace, createTracing, type Tracing, type TracingOptions } from './tracing.js';

/**
 * What an operator sees of the engine: Prometheus metrics, OpenTelemetry traces and the call's story in the logs,
 * all fed from one tap in the composition root (src/engine.ts): the call record's sink. The session writes every
 * turn, tool call, incident and state change to its sink; this wraps that sink, so the media path gains no work
 * and no new dependency. Live subscribers (the console's event stream) get the same events.
 */
export interface CallInfo {
  callId: string;
  tenantId: string;
  assistantId: string;
  protocol: string;
  direction?: string;
}

export interface LiveCallEvent {
  callId: string;
  tenantId: string;
  type: string;
  data: Record<string, unknown>;
}

export interface LiveCall extends CallInfo {
  startedAt: string;
  state?: string;
  turns: number;
}

export interface ObservedCall {
  /** The call's sink with every write also observed. */
  readonly sink: CallSink;
  /** Wrap the call's knowledge retriever (lookup latency histogram and span). */
  retriever(r: Retriever | undefined): Retriever | undefined;
  ended(summary: CallSummary, outcome: 'completed' | 'failed'): void;
}

export interface Observability {
  readonly metrics: EngineMetrics;
  readonly tracing: Tracing;
  call(info: CallInfo, sink: CallSink, log: Logger): ObservedCall;
  /** GET /metrics as served (METRICS_TOKEN guards it when set). */
  endpoint(token?: string): MetricsEndpoint;
  /** One webhook delivery attempt: its span (traceparent for the request) and, when it ends, its metrics. */
  webhookAttempt(
    type: string,
    callId: string | undefined,
  ): { traceparent?: string; end(ok: boolean, ms: number): void };
  /** Provider registry whose providers count their requests (kind, provider). */
  meter(registry: ProviderRegistry): ProviderRegistry;
  /** Live call events for one tenant (a console's stream); returns the unsubscribe function. */
  subscribe(tenantId: string, listener: (e: LiveCallEvent) => void): () => void;
  /** The tenant's calls in progress on this engine, with their latest state. */
  liveCalls(tenantId: string): LiveCall[];
  close(): Promise<void>;
}

export interface ObservabilityOptions extends TracingOptions {
  sources?: MetricsSources;
  /** No metrics, spans or call log lines (the bench's baseline); /metrics still answers, with nothing moving. */
  off?: boolean;
}

const STAGE_FIELDS: ReadonlyArray<readonly [string, TurnStage]> = [
  ['endpointingMs', 'endpointing'],
  ['asrFinalMs', 'asr_final'],
  ['llmFirstTokenMs', 'llm_first_token'],
  ['ttsFirstByteMs', 'tts_first_byte'],
  ['voiceToVoiceMs', 'voice_to_voice'],
  ['bargeInMs', 'barge_in'],
];

function p50(values: number[]): number | undefined {
  if (!values.length) return undefined;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

export function createObservability(opts: ObservabilityOptions = {}): Observability {
  const metrics = createMetrics(opts.sources);
  if (opts.off) return offObservability(metrics);
  const tracing = createTracing(opts);
  const listeners = new Map<string, Set<(e: LiveCallEvent) => void>>();
  const live = new Map<string, LiveCall>();

  const publish = (e: LiveCallEvent) => {
    const set = listeners.get(e.tenantId);
    if (!set) return;
    for (const l of set) {
      try {
        l(e);
      } catch {
        // A subscriber's failure is its own; the call goes on.
      }
    }
  };

  function call(info: CallInfo, inner: CallSink, log: Logger): ObservedCall {
    metrics.callStarted(info.protocol);
    const trace: CallTrace | undefined = tracing.startCall(info);
    const v2v: number[] = [];
    let done = false;
    const entry: LiveCall = { ...info, startedAt: new Date().toISOString(), turns: 0 };
    live.set(info.callId, entry);
    log.info({ tenantId: info.tenantId, assistantId: info.assistantId, direction: info.direction }, 'call started');
    publish({ callId: info.callId, tenantId: info.tenantId, type: 'call.started', data: { ...info } });

    const sink: CallSink = {
      event(type, data) {
        inner.event(type, data);
        switch (type) {
          case 'turn': {
            for (const [field, stage] of STAGE_FIELDS) {
              const v = data[field];
              if (typeof v === 'number' && Number.isFinite(v)) metrics.turnLatency(stage, v);
            }
            if (typeof data.voiceToVoiceMs === 'number') v2v.push(data.voiceToVoiceMs);
            entry.turns++;
            trace?.turn(data);
            break;
          }
          case 'tool':
            // The filler notice of a slow tool is not a completed call.
            if (typeof data.ok === 'boolean') {
              metrics.toolCall(data.ok, typeof data.ms === 'number' ? data.ms : undefined);
              trace?.tool(data);
            }
            break;
          case 'state':
            if (typeof data.state === 'string') entry.state = data.state;
            // Caller speech onset over the agent -> agent audio paused (clear on the wire).
            if (data.paused === true && typeof data.bargeInMs === 'number')
              metrics.turnLatency('barge_in', data.bargeInMs);
            break;
          case 'incident': {
            const kind = typeof data.kind === 'string' ? data.kind : 'other';
            const action = data.action;
            if (action === 'retry' || action === 'fallback' || action === 'failed') {
              metrics.providerIncident(kind, String(data.provider ?? 'unknown'), action);
            }
            trace?.incident(data);
            log.warn({ incident: data }, 'call incident');
            break;
          }
        }
        publish({ callId: info.callId, tenantId: info.tenantId, type, data });
      },
      update(patch) {
        inner.update(patch);
        publish({ callId: info.callId, tenantId: info.tenantId, type: 'update', data: { ...patch } });
      },
    };

    return {
      sink,
      retriever(r) {
        if (!r) return r;
        return {
          ...(r.prefetch ? { prefetch: (q: string) => r.prefetch?.(q) } : {}),
          async search(q) {
            const start = Date.now();
            const t0 = performance.now();
            try {
              const hits = await r.search(q);
              metrics.knowledgeLookup(performance.now() - t0);
              trace?.knowledge(start, Date.now(), { 'knowledge.hits': hits.length });
              return hits;
            } catch (err) {
              trace?.knowledge(start, Date.now(), {}, err);
              throw err;
            }
          },
        };
      },
      ended(summary, outcome) {
        if (done) return;
        done = true;
        live.delete(info.callId);
        metrics.callEnded(info.protocol, outcome);
        trace?.end(outcome, summary.endReason);
        log.info(
          {
            tenantId: info.tenantId,
            assistantId: info.assistantId,
            protocol: info.protocol,
            durationMs: summary.durationMs,
            outcome,
            endReason: summary.endReason,
            turns: summary.turns,
            voiceToVoiceP50Ms: p50(v2v),
          },
          'call ended',
        );
        publish({
          callId: info.callId,
          tenantId: info.tenantId,
          type: 'call.ended',
          data: { outcome, endReason: summary.endReason, durationMs: summary.durationMs, turns: summary.turns },
        });
      },
    };
  }

  return {
    metrics,
    tracing,
    call,
    endpoint: (token) => endpointOf(metrics, token),
    webhookAttempt(type, callId) {
      const span = tracing.webhook(callId, type);
      return {
        ...(span.traceparent ? { traceparent: span.traceparent } : {}),
        end: (ok, ms) => {
          metrics.webhookAttempt(ok, ms);
          span.end(ok);
        },
      };
    },
    meter: (registry) => meterProviders(registry, metrics),
    subscribe(tenantId, listener) {
      const set = listeners.get(tenantId) ?? new Set<(e: LiveCallEvent) => void>();
      listeners.set(tenantId, set);
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(tenantId);
      };
    },
    liveCalls: (tenantId) => [...live.values()].filter((c) => c.tenantId === tenantId).map((c) => ({ ...c })),
    close: () => tracing.shutdown(),
  };
}

function offObservability(metrics: EngineMetrics): Observability {
  const tracing = createTracing({ env: {} });
  return {
    metrics,
    tracing,
    call: (_info, sink) => ({ sink, retriever: (r) => r, ended: () => {} }),
    endpoint: (token) => endpointOf(metrics, token),
    webhookAttempt: () => ({ end: () => {} }),
    meter: (registry) => registry,
    subscribe: () => () => {},
    liveCalls: () => [],
    close: async () => {},
  };
}

function endpointOf(metrics: EngineMetrics, token: string | undefined): MetricsEndpoint {
  return {
    contentType: metrics.contentType,
    render: () => metrics.render(),
    ...(token !== undefined ? { token } : {}),
  };
}
