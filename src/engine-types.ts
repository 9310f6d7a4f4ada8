/** The composition root's contract (src/engine.ts): what createEngine() takes and what it gives. */
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { FastifyInstance } from 'fastify';
import type { CallSession } from './call/session.js';
import type { EngineConfig } from './config.js';
import type { Logger } from './log.js';
import type { Observability } from './observability/index.js';
import type { ProviderRegistry } from './providers/registry.js';
import type { KnowledgeBase } from './rag/index.js';
import type { SipServer } from './sip/server.js';
import type { FileStorage } from './storage/index.js';
import type { Store } from './store/index.js';
import type { Gateway } from './telephony/gateway.js';
import type { ToolRegistry } from './tools/types.js';
import type { WebhookDispatcher } from './webhooks/dispatcher.js';

export interface EngineOptions {
  config: EngineConfig;
  logger?: Logger;
  /** Replaces the provider registry (tests and benches with fakes). */
  providers?: ProviderRegistry;
  /** Where the first-start key banner goes (stdout by default). */
  print?: (line: string) => void;
  /** Grace period for calls in progress on close(), ms. */
  drainTimeoutMs?: number;
  /** Tests: export spans here (e.g. an in-memory exporter) instead of what OTEL_* configures. */
  spanExporter?: SpanExporter;
  /** false: no metrics, spans or call log lines (the observability bench's baseline). */
  observe?: boolean;
  /** Engine heartbeat period and the silence after which other engines close its calls, ms (presence.ts). */
  heartbeatMs?: number;
  deadAfterMs?: number;
  /** Where finished recordings and wire logs go; default from FILE_STORAGE / S3_* (src/storage). */
  files?: FileStorage;
}

export interface Engine {
  readonly config: EngineConfig;
  readonly logger: Logger;
  readonly store: Store;
  readonly providers: ProviderRegistry;
  readonly kb: KnowledgeBase;
  readonly tools: ToolRegistry;
  readonly webhooks: WebhookDispatcher;
  readonly observability: Observability;
  readonly app: FastifyInstance;
  readonly gateway: Gateway;
  /** The SIP user agent (config.sip), listening once listen() ran. */
  readonly sip: SipServer | undefined;
  /** Live sessions in this process, by store call id. */
  readonly sessions: ReadonlyMap<string, CallSession>;
  /** The first tenant's id, when this start created or found it from PORTAL_* settings. */
  readonly firstTenantId?: string;
  listen(opts?: { port?: number; host?: string }): Promise<{ port: number; url: string; metricsPort?: number }>;
  /** Stop taking new calls (health answers 503), let calls in progress finish, then shut down. Idempotent. */
  close(): Promise<void>;
}
