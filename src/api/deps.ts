import type { FastifyPluginAsync } from 'fastify';
import type { SmsSender } from '../channels/sms.js';
import type { OutboundDialer } from '../channels/types.js';
import type { WhatsAppSender } from '../channels/whatsapp.js';
import type { WhatsAppInbound } from '../channels/whatsapp-inbound.js';
import type { OutboundWorker } from '../channels/worker.js';
import type { EngineConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { MetricsEndpoint } from '../observability/metrics-http.js';
import type { FileStorage } from '../storage/index.js';
import type { Store, WebhookEventType } from '../store/index.js';
import type { RateLimiter } from './rate-limit.js';

/**
 * What the API is built from (buildApp in app.ts) and what every route plugin gets. Its own file so that route
 * files depend on these types, not on app.ts (which imports the routes): no import cycle.
 */
/** What the provider registry offers the API (src/providers/registry.ts `Catalog`, typed structurally here). */
export interface CatalogLike {
  providers(kind: 'asr' | 'llm' | 'tts'): Promise<Array<{ id: string }>>;
  models(kind: 'asr' | 'llm' | 'tts', provider?: string): Promise<object[]>;
  voices(provider?: string): Promise<object[]>;
  /** null when the config names only known things, else a message naming the unknown provider, model or voice. */
  validate(kind: 'asr' | 'llm' | 'tts', cfg: never): Promise<string | null>;
}

export interface ToolCatalogLike {
  catalog(): Array<{ name: string; description: string; parameters: Record<string, unknown> }>;
}

export interface LiveCalls {
  activeCalls(): number;
  draining(): boolean;
  applyAssistantChange?(assistantId: string): void;
}

export interface AppDeps {
  config: EngineConfig;
  store: Store;
  logger: Logger;
  providers?: { catalog: CatalogLike };
  tools?: ToolCatalogLike;
  /** Route plugins registered after authentication (e.g. the RAG routes); `request.tenant` is set for them. */
  extraRoutes?: FastifyPluginAsync[];
  live?: LiveCalls;
  /** Places outbound calls; when given, the app runs the persisted outbound queue (src/channels/worker.ts). */
  dialer?: OutboundDialer;
  /** The knowledge base's collections, to check an assistant's rag.collections when they are set. */
  knowledge?: { listCollections(tenantId: string): Promise<Array<{ name: string }>> };
  /** Sends WhatsApp messages through the Cloud API (POST /api/v1/whatsapp/send, the agent's replies). */
  whatsapp?: WhatsAppSender;
  /** Records and answers the WhatsApp webhook's messages (POST /webhook/whatsapp/{tenantId}). */
  whatsappInbound?: WhatsAppInbound;
  /** Sends SMS through the tenant's carrier (POST /api/v1/sms/send). */
  sms?: SmsSender;
  /** Webhook outbox (src/webhooks/dispatcher.ts) for events the API itself raises. */
  webhooks?: { enqueue(tenantId: string, type: WebhookEventType, payload: Record<string, unknown>): Promise<void> };
  /** Where finished recordings and wire logs live (src/storage); default: the local DATA_DIR. */
  files?: FileStorage;
  /** This engine process's id among those sharing the store (src/cluster/presence.ts). */
  engineId?: string;
  /** Replaces the in-process token bucket, e.g. with one shared by all engine processes. */
  rateLimiter?: RateLimiter;
  /** Request metrics by route template (src/observability), and GET /metrics unless it has its own port. */
  observe?: {
    request(route: string, method: string, status: number, ms: number): void;
    endpoint?: MetricsEndpoint;
  };
}

/** Everything route plugins get: the deps plus what buildApp derived from them. */
export interface RouteDeps extends AppDeps {
  rateLimiter: RateLimiter;
  outbound?: OutboundWorker;
}
