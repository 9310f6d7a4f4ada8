import type http from 'node:http';
import type { Assistant } from '../assistant.js';
import type { Logger } from '../log.js';
import type { CallControl } from './call-control.js';
import type { EchoTap } from './echo.js';
import type { CallStartInfo, MediaLeg } from './leg.js';
import type { Pacer } from './pacer.js';

/**
 * The media gateway's contract (src/telephony/gateway.ts attachGateway): what it asks of the engine (resolve a
 * stream to a call, hand the call over, the platform's REST call control), its limits and its statistics. Its own
 * file so that the connection (connection.ts) and the gateway share these types without importing each other.
 */
export interface ResolveRequest {
  protocol: string;
  pathKey?: string;
  /** assistantApiKey from the start message's custom parameters */
  paramKey?: string;
  from?: string;
  to?: string;
  customParameters: Record<string, string>;
  remoteAddress: string;
  /**
   * Set by an ingress that has itself authenticated a number-routed call for the routed tenant (SIP: digest
   * credentials or the allowlist, src/sip/admission.ts); WebSocket streams never set it.
   */
  admitted?: true;
  headers: http.IncomingHttpHeaders;
  url: string;
}

export interface ResolvedCall {
  tenantId: string;
  assistant: Assistant;
  /** Called once when the call ends (call-limit slot). */
  release?(): void;
}

export type ResolveResult = { ok: true; call: ResolvedCall } | { ok: false; code: number; reason: string };

export interface GatewayLimits {
  /**
   * Largest accepted WebSocket message, bytes (4009 beyond). ws itself refuses messages over twice this with 1009
   * before they are buffered whole (its maxPayload), so one socket never holds more than that in flight.
   */
  maxMessageBytes: number;
  /** Messages per second per connection (4029 beyond). */
  maxMessagesPerSecond: number;
  /** ms without any message before 4031. */
  idleTimeoutMs: number;
  /**
   * ms from the upgrade to the start message (or the connection metadata that starts the call) before 4031. No
   * pre-start message (Twilio `connected`, Vonage `websocket:connected`, pings) extends it.
   */
  startTimeoutMs: number;
  /** Bytes a socket may send before its start message (4009 beyond); audio held while resolving is capped too. */
  maxPrestartBytes: number;
  /** Concurrent sockets per client IP that have not yet started a call (HTTP 429 on the upgrade beyond). */
  maxPendingPerIp: number;
  /** ws.bufferedAmount cap, bytes: beyond it outbound frames are dropped and counted; at 4x, close. */
  maxBufferedBytes: number;
  /** Malformed messages tolerated per connection before 4008. */
  maxMalformed: number;
  /** Outbound pacing lead, ms. */
  leadMs: number;
  /** ms allowed for deps.resolve() before the stream is closed with 4500 (Exotel gives up after 10 s). */
  resolveTimeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<GatewayLimits> = Object.freeze({
  maxMessageBytes: 64 * 1024,
  // 50 media messages per second at 20 ms, plus marks, DTMF and slack for jittery senders.
  maxMessagesPerSecond: 200,
  idleTimeoutMs: 60_000,
  startTimeoutMs: 10_000,
  // A start message with custom parameters is a few KB; 64 KiB also holds ~2 s of 16 kHz audio sent early.
  maxPrestartBytes: 64 * 1024,
  maxPendingPerIp: 20,
  maxBufferedBytes: 256 * 1024,
  maxMalformed: 20,
  leadMs: 80,
  resolveTimeoutMs: 5000,
});

export interface GatewayDeps {
  resolve(req: ResolveRequest): Promise<ResolveResult>;
  onCall(leg: MediaLeg, call: ResolvedCall): void;
  logger: Logger;
  limits?: Partial<GatewayLimits>;
  /** The shared outbound clock; tests inject one with a simulated clock. Default: one Pacer per gateway. */
  pacer?: Pacer;
  /** Sees each inbound wire frame of echo-mode calls (the load bench measures inbound lag with it). */
  echoTap?: EchoTap;
  /**
   * The platform's REST call control bound to one call (src/channels/call-control.ts createPlatformControl), for
   * protocols whose socket can neither end the call nor transfer it (adapter hangupVia / transferVia 'rest').
   * Without it those legs close the socket on hangup and cannot transfer ('unsupported').
   */
  control?: ControlFor;
  /**
   * The client address of an upgrade request (behind trusted proxies, from X-Forwarded-For): used for the per-IP
   * pending-socket cap and given to resolve(). Default: the socket peer.
   */
  clientIp?(req: http.IncomingMessage): string;
}

/** A carrier of the one call-control interface (src/telephony/call-control.ts), bound to one call. */
export type ControlFor = (call: Pick<ResolvedCall, 'tenantId'>, info: CallStartInfo) => CallControl;

export interface GatewayStats {
  activeCalls: number;
  connections: number;
  accepted: number;
  /** Closes by code (4xxx ours, others the peer's). */
  closes: Record<string, number>;
  notFound: number;
  /** Upgrades refused with 429: too many not-yet-started sockets from one IP. */
  refusedPending: number;
  /** Sockets open that have not started a call yet. */
  pending: number;
  malformed: number;
  framesIn: number;
  framesOut: number;
  dropped: number;
  gaps: number;
  /** Worst lateness of a pacer tick vs its schedule, ms. */
  pacerMaxLateMs: number;
}

export interface Gateway {
  readonly activeCalls: number;
  /** Refuse new streams with 4050; keep existing ones. */
  drain(): void;
  /** Close every stream with 4050 and stop accepting. */
  close(): Promise<void>;
  stats(): GatewayStats;
}
