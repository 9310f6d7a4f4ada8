import path from 'node:path';
import { type EgressPolicy, egressPolicyFromEnv } from './net/policy.js';
import type { GatewayLimits } from './telephony/gateway-types.js';
import { loadOperatorMcpServers, type OperatorMcpServer } from './tools/mcp-servers.js';

/** A bad environment variable: the engine refuses to start (exit 2, like a bad command line). */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Environment contract (DESIGN.md section 3). Everything the engine reads from the environment is here. */
export interface EngineConfig {
  port: number;
  host: string;
  dataDir: string;
  /** DATABASE_URL=postgres://…: the shared Postgres store (DESIGN.md 10); unset: SQLite under dataDir. */
  databaseUrl?: string;
  logLevel: string;
  portalEmail?: string;
  portalApiKey?: string;
  adminApiKey?: string;
  /** Public base URL used in links we hand out (recording URLs, TwiML). */
  publicUrl?: string;
  /** RECORDING_LINK_SECRET: signs recording links (src/api/recording-link.ts); unset: generated once into dataDir. */
  recordingLinkSecret?: string;
  providers: {
    deepgram: { apiKey?: string; baseUrl?: string };
    openai: { apiKey?: string; baseUrl?: string };
    elevenlabs: { apiKey?: string; baseUrl?: string };
  };
  rateLimitPerMinute: number;
  /**
   * TRUST_PROXY: behind a load balancer, the comma-separated proxy IPs/CIDRs whose X-Forwarded-For is believed for
   * the client IP (IP allowlist, rate limits, media per-IP caps). Only listed addresses: `true` or a hop count would
   * let any client pick its own address, so they are refused at start (src/api/client-ip.ts). Unset: the peer.
   */
  trustProxy?: string;
  /**
   * SECRETS_KEY (and SECRETS_KEY_PREVIOUS while rotating): seals assistant keys and plugin credentials at rest
   * (src/store/secrets.ts). Unset: DATA_DIR/secrets.key, generated with mode 0600. Engines sharing a database must
   * share it.
   */
  secretsKey?: string;
  secretsKeyPrevious?: string;
  /** NATIVE_REQUIRE_PORTAL_KEY=true: /media/native upgrades must carry the assistant tenant's portal key. */
  nativeRequirePortalKey: boolean;
  /** HTTP_REQUEST_TIMEOUT_MS: the whole request (headers and body) must arrive within this, else 408 and close. */
  httpRequestTimeoutMs: number;
  /** HTTP_IDLE_TIMEOUT_MS: an HTTP connection with no traffic at all for this long is closed. */
  httpIdleTimeoutMs: number;
  /**
   * Media WebSocket limits (src/telephony/gateway-types.ts DEFAULT_LIMITS), each from its own variable when set:
   * MEDIA_START_TIMEOUT_MS, MEDIA_IDLE_TIMEOUT_MS, MEDIA_MAX_MESSAGE_BYTES, MEDIA_MAX_PRESTART_BYTES,
   * MEDIA_MAX_PENDING_PER_IP, MEDIA_MAX_MESSAGES_PER_SECOND.
   */
  mediaLimits: Partial<GatewayLimits>;
  /**
   * Outbound requests to tenant-controlled URLs (webhooks, carrier base URLs): EGRESS_BLOCK_PRIVATE ('true' also
   * blocks loopback/RFC 1918/ULA/CGNAT; metadata and link-local always are), EGRESS_ALLOW_HOSTS (names or CIDRs).
   */
  egress: EgressPolicy;
  /** MCP_SERVERS_FILE: the operator's stdio MCP servers (src/tools/mcp-servers.ts); assistants refer to them by name. */
  mcpServers: OperatorMcpServer[];
  /** METRICS_PORT: serve GET /metrics on its own port (0: any free port) instead of the engine's. */
  metricsPort?: number;
  /** METRICS_TOKEN: require `Authorization: Bearer <token>` on GET /metrics. */
  metricsToken?: string;
  /**
   * SIP ingress (src/sip): on when SIP_PORT or SIP_HOST is set (SIP_PORT default 5060, 0 = any free port; SIP_HOST
   * default 0.0.0.0); RTP on even ports of RTP_PORT_MIN-RTP_PORT_MAX (default 10000-20000). Off when neither is set,
   * so that `npm start` binds no SIP port unless asked. SIP over TLS when SIP_TLS_PORT, SIP_TLS_CERT and SIP_TLS_KEY
   * (PEM file paths) are set; SIP_TLS_CA (PEM) is trusted besides the system CAs for trunks over TLS.
   */
  sip?: {
    host: string;
    port: number;
    rtpPortMin: number;
    rtpPortMax: number;
    tls?: { port: number; certFile: string; keyFile: string; caFile?: string };
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<EngineConfig> = {}): EngineConfig {
  const num = (v: string | undefined, d: number): number => {
    const n = v === undefined || v === '' ? Number.NaN : Number(v);
    return Number.isFinite(n) ? n : d;
  };
  const opt = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);
  return {
    port: num(env.PORT, 8080),
    host: env.HOST || '0.0.0.0',
    dataDir: path.resolve(env.DATA_DIR || './data'),
    databaseUrl: opt(env.DATABASE_URL),
    logLevel: env.LOG_LEVEL || 'info',
    portalEmail: opt(env.PORTAL_EMAIL),
    portalApiKey: opt(env.PORTAL_API_KEY),
    adminApiKey: opt(env.ADMIN_API_KEY),
    publicUrl: opt(env.PUBLIC_URL),
    recordingLinkSecret: opt(env.RECORDING_LINK_SECRET),
    providers: {
      deepgram: { apiKey: opt(env.DEEPGRAM_API_KEY), baseUrl: opt(env.DEEPGRAM_BASE_URL) },
      openai: { apiKey: opt(env.OPENAI_API_KEY), baseUrl: opt(env.OPENAI_BASE_URL) },
      elevenlabs: { apiKey: opt(env.ELEVENLABS_API_KEY), baseUrl: opt(env.ELEVENLABS_BASE_URL) },
    },
    rateLimitPerMinute: num(env.RATE_LIMIT_PER_MINUTE, 100),
    secretsKey: opt(env.SECRETS_KEY),
    secretsKeyPrevious: opt(env.SECRETS_KEY_PREVIOUS),
    nativeRequirePortalKey: env.NATIVE_REQUIRE_PORTAL_KEY === 'true',
    httpRequestTimeoutMs: num(env.HTTP_REQUEST_TIMEOUT_MS, 120_000),
    httpIdleTimeoutMs: num(env.HTTP_IDLE_TIMEOUT_MS, 300_000),
    mediaLimits: mediaLimitsFromEnv(env),
    egress: egressPolicyFromEnv(env),
    mcpServers: loadOperatorMcpServers(opt(env.MCP_SERVERS_FILE)),
    ...(opt(env.METRICS_PORT) === undefined ? {} : { metricsPort: num(env.METRICS_PORT, 0) }),
    ...(opt(env.METRICS_TOKEN) === undefined ? {} : { metricsToken: opt(env.METRICS_TOKEN) }),
    ...(opt(env.TRUST_PROXY) === undefined ? {} : { trustProxy: env.TRUST_PROXY }),
    ...(opt(env.SIP_PORT) === undefined && opt(env.SIP_HOST) === undefined
      ? {}
      : {
          sip: {
            host: env.SIP_HOST || '0.0.0.0',
            port: num(env.SIP_PORT, 5060),
            rtpPortMin: num(env.RTP_PORT_MIN, 10000),
            rtpPortMax: num(env.RTP_PORT_MAX, 20000),
            ...(opt(env.SIP_TLS_CERT) && opt(env.SIP_TLS_KEY)
              ? {
                  tls: {
                    port: num(env.SIP_TLS_PORT, 5061),
                    certFile: env.SIP_TLS_CERT!,
                    keyFile: env.SIP_TLS_KEY!,
                    ...(opt(env.SIP_TLS_CA) ? { caFile: env.SIP_TLS_CA! } : {}),
                  },
                }
              : {}),
          },
        }),
    ...overrides,
  };
}

const MEDIA_LIMIT_VARS: ReadonlyArray<[string, keyof GatewayLimits]> = [
  ['MEDIA_START_TIMEOUT_MS', 'startTimeoutMs'],
  ['MEDIA_IDLE_TIMEOUT_MS', 'idleTimeoutMs'],
  ['MEDIA_MAX_MESSAGE_BYTES', 'maxMessageBytes'],
  ['MEDIA_MAX_PRESTART_BYTES', 'maxPrestartBytes'],
  ['MEDIA_MAX_PENDING_PER_IP', 'maxPendingPerIp'],
  ['MEDIA_MAX_MESSAGES_PER_SECOND', 'maxMessagesPerSecond'],
];

/** The media limits an operator set; a value that is not a positive integer is refused at start, naming the variable. */
export function mediaLimitsFromEnv(env: NodeJS.ProcessEnv): Partial<GatewayLimits> {
  const out: Partial<GatewayLimits> = {};
  for (const [name, key] of MEDIA_LIMIT_VARS) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${name} must be a positive integer, got '${raw}'`);
    out[key] = n;
  }
  return out;
}
