import {
  type Attributes,
  type Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { rememberTraceparent, traceparentFor } from './trace-context.js';

/**
 * OpenTelemetry tracing, off unless the standard OTEL_* variables ask for it (OTEL_TRACES_EXPORTER=otlp|console, or
 * OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set; OTEL_SDK_DISABLED=true or
 * OTEL_TRACES_EXPORTER=none turn it off). The OTLP/HTTP exporter reads its endpoint, headers and timeout from the
 * same variables; OTEL_SERVICE_NAME (default voice-engine) and OTEL_RESOURCE_ATTRIBUTES name the resource.
 *
 * Shape: one trace per call. The `call` span lives from the media stream's start to the call's end; each turn is a
 * child span from the end of the caller's speech to the agent's first audio, with the latency breakdown as
 * attributes and one child span per stage (asr, endpointing, llm, tts, tool, knowledge). Turn and stage spans are
 * laid down when the session reports the turn (from its recorded timeline, so they cost the media path nothing);
 * tool and knowledge spans when they complete. Webhooks and HTTP tools carry the call's W3C `traceparent`.
 *
 * No tracer provider is registered globally: several engines in one process (tests) each keep their own.
 */
export interface CallTraceInfo {
  callId: string;
  tenantId: string;
  assistantId: string;
  protocol: string;
  direction?: string;
}

export interface CallTrace {
  /** A `turn` event of the call record (TurnMetrics plus `marks`: epoch-ms timeline). */
  turn(data: Record<string, unknown>): void;
  /** A completed tool call (the call record's `tool` event, with `ms`). */
  tool(data: Record<string, unknown>): void;
  knowledge(startMs: number, endMs: number, attrs: Attributes, error?: unknown): void;
  /** A provider incident, as a span event on the call. */
  incident(data: Record<string, unknown>): void;
  end(outcome: string, reason?: string): void;
  readonly traceparent: string;
}

export interface Tracing {
  readonly enabled: boolean;
  startCall(info: CallTraceInfo): CallTrace | undefined;
  /**
   * A span for one webhook delivery attempt, child of the call's span when the payload names a call this process
   * traced; `traceparent` goes on the request so the receiver's trace joins the call's.
   */
  webhook(callId: string | undefined, event: string): { traceparent?: string; end(ok: boolean): void };
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  env?: NodeJS.ProcessEnv;
  /** Tests: an in-memory exporter, exported synchronously (SimpleSpanProcessor). */
  exporter?: SpanExporter;
}

export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED === 'true') return false;
  const exp = env.OTEL_TRACES_EXPORTER;
  if (exp === 'none') return false;
  return (
    exp === 'otlp' || exp === 'console' || !!env.OTEL_EXPORTER_OTLP_ENDPOINT || !!env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  );
}

const propagator = new W3CTraceContextPropagator();
const NO_SPAN = { end: () => {} };

function traceparentOf(ctx: Context): string {
  const carrier: Record<string, string> = {};
  propagator.inject(ctx, carrier, defaultTextMapSetter);
  return carrier.traceparent ?? '';
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Turn stages laid out from the session's epoch-ms marks: [span name, start mark, end mark]. */
const STAGES: ReadonlyArray<readonly [string, string, string]> = [
  ['asr', 'speechEndAt', 'asrFinalAt'],
  ['endpointing', 'speechEndAt', 'committedAt'],
  ['llm', 'llmRequestAt', 'llmFirstTokenAt'],
  ['tts', 'llmFirstTokenAt', 'ttsFirstByteAt'],
];

const METRIC_ATTRS: ReadonlyArray<readonly [string, string]> = [
  ['endpointingMs', 'turn.endpointing_ms'],
  ['asrFinalMs', 'turn.asr_final_ms'],
  ['llmFirstTokenMs', 'turn.llm_first_token_ms'],
  ['ttsFirstByteMs', 'turn.tts_first_byte_ms'],
  ['voiceToVoiceMs', 'turn.voice_to_voice_ms'],
  ['bargeInMs', 'turn.barge_in_ms'],
];

export function createTracing(opts: TracingOptions = {}): Tracing {
  const env = opts.env ?? process.env;
  if (!opts.exporter && !tracingRequested(env)) {
    return { enabled: false, startCall: () => undefined, webhook: () => NO_SPAN, shutdown: async () => {} };
  }
  const exporter =
    opts.exporter ?? (env.OTEL_TRACES_EXPORTER === 'console' ? new ConsoleSpanExporter() : new OTLPTraceExporter());
  const processor = opts.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  const provider = new BasicTracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || 'voice-engine' }),
    ),
    spanProcessors: [processor],
  });
  const tracer: Tracer = provider.getTracer('voice-engine');

  function startCall(info: CallTraceInfo): CallTrace {
    const span = tracer.startSpan('call', {
      attributes: {
        'call.id': info.callId,
        'call.tenant_id': info.tenantId,
        'call.assistant_id': info.assistantId,
        'call.protocol': info.protocol,
        ...(info.direction ? { 'call.direction': info.direction } : {}),
      },
    });
    const ctx = trace.setSpan(ROOT_CONTEXT, span);
    const traceparent = traceparentOf(ctx);
    rememberTraceparent(info.callId, traceparent);
    let turns = 0;
    let ended = false;

    const child = (name: string, parent: Context, start: number, end: number, attrs: Attributes): Span => {
      const s = tracer.startSpan(name, { startTime: start, attributes: attrs }, parent);
      s.end(Math.max(start, end));
      return s;
    };

    return {
      traceparent,
      turn(data) {
        if (ended) return;
        turns++;
        const marks = (data.marks ?? {}) as Record<string, unknown>;
        const now = Date.now();
        const v2v = num(data.voiceToVoiceMs);
        const start = num(marks.speechEndAt) ?? num(marks.committedAt) ?? (v2v !== undefined ? now - v2v : now);
        const end = num(marks.firstAudioAt) ?? now;
        const attrs: Attributes = { 'turn.number': num(data.turn) ?? turns };
        for (const [k, a] of METRIC_ATTRS) {
          const v = num(data[k]);
          if (v !== undefined) attrs[a] = v;
        }
        if (data.interrupted) attrs['turn.interrupted'] = true;
        if (typeof data.truncation === 'string') attrs['turn.truncation'] = data.truncation;
        const turnSpan = tracer.startSpan('turn', { startTime: start, attributes: attrs }, ctx);
        const turnCtx = trace.setSpan(ctx, turnSpan);
        for (const [name, from, to] of STAGES) {
          const a = num(marks[from]);
          const b = num(marks[to]);
          if (a !== undefined && b !== undefined) child(name, turnCtx, a, b, {});
        }
        turnSpan.end(Math.max(start, end));
      },
      tool(data) {
        if (ended) return;
        const ms = num(data.ms);
        if (ms === undefined) return;
        const end = Date.now();
        const s = tracer.startSpan(
          'tool',
          { startTime: end - ms, attributes: { 'tool.name': String(data.name ?? ''), 'tool.ok': data.ok === true } },
          ctx,
        );
        if (data.ok === false) s.setStatus({ code: SpanStatusCode.ERROR });
        s.end(end);
      },
      knowledge(startMs, endMs, attrs, error) {
        if (ended) return;
        const s = tracer.startSpan('knowledge', { startTime: startMs, attributes: attrs }, ctx);
        if (error) s.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        s.end(endMs);
      },
      incident(data) {
        if (ended) return;
        const attrs: Attributes = {};
        for (const k of ['kind', 'provider', 'code', 'action', 'attempt'] as const) {
          const v = data[k];
          if (typeof v === 'string' || typeof v === 'number') attrs[`incident.${k}`] = v;
        }
        span.addEvent('incident', attrs);
      },
      end(outcome, reason) {
        if (ended) return;
        ended = true;
        span.setAttribute('call.outcome', outcome);
        span.setAttribute('call.turns', turns);
        if (reason) span.setAttribute('call.end_reason', reason);
        if (outcome === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: reason });
        span.end();
        // Webhooks for this call are sent after it ends: its traceparent stays known a while (trace-context.ts).
      },
    };
  }

  return {
    enabled: true,
    startCall,
    webhook(callId, event) {
      const parentTp = callId ? traceparentFor(callId) : undefined;
      const parent = parentTp
        ? propagator.extract(ROOT_CONTEXT, { traceparent: parentTp }, defaultTextMapGetter)
        : ROOT_CONTEXT;
      const s = tracer.startSpan('webhook', { attributes: { 'webhook.event': event } }, parent);
      return {
        traceparent: traceparentOf(trace.setSpan(parent, s)),
        end(ok) {
          s.setAttribute('webhook.ok', ok);
          if (!ok) s.setStatus({ code: SpanStatusCode.ERROR });
          s.end();
        },
      };
    },
    async shutdown() {
      await provider.shutdown();
    },
  };
}
