import type { AudioFormat } from '../audio/format.js';
import type { LegOutboundEvent, TransferMode } from './leg.js';

/**
 * The narrow interface between one wire protocol and the shared leg (src/telephony/media-leg.ts). An adapter is a
 * pure codec plus the little state its protocol needs (the stream id to echo, the control-message format): it
 * parses inbound frames into calls on an InboundSink and encodes outbound audio / mark / clear / hangup into wire
 * messages. It never touches the socket, timers or the call session; capabilities are data (STYLE.md 1).
 */

/** What the start message (or connection metadata) told us. */
export interface StartMeta {
  callId: string;
  streamId?: string;
  from?: string;
  to?: string;
  customParameters: Record<string, string>;
  /** `assistantApiKey` from the start message's custom parameters. */
  paramKey?: string;
  /** Audio as it arrives; pcm16 is little-endian by the time it reaches the sink. */
  inboundFormat: AudioFormat;
  /** Audio the wire expects back. */
  outboundFormat: AudioFormat;
  /** Bytes per outbound message when the platform fixes it (Asterisk optimal_frame_size). */
  outboundFrameBytes?: number;
}

/** Inbound events, as calls rather than objects so that a media frame allocates nothing. */
export interface InboundSink {
  start(meta: StartMeta): void;
  /** Wire bytes in inboundFormat; a view valid only during the call. */
  audio(wire: Uint8Array): void;
  /** The protocol's per-message sequence number, for gap counting. */
  seq(n: number): void;
  dtmf(digit: string, durationMs?: number): void;
  /** The platform echoed one of our marks. */
  mark(name: string): void;
  /** The platform confirmed a clear (Plivo clearedAudio, Vonage websocket:cleared). */
  cleared(): void;
  stop(reason: string): void;
  /** The platform asks us to pause (true) or resume (false) sending audio (Asterisk MEDIA_XOFF / MEDIA_XON). */
  flow(paused: boolean): void;
  /** Bad input: counted, logged once per call, skipped (or the call closed past the tolerated count). */
  malformed(reason: string): void;
}

export interface ProtocolCaps {
  readonly name: string;
  /** DTMF arrives as events; when false the leg detects it in-band (and stops as soon as an event arrives). */
  readonly dtmfEvents: boolean;
  /** The platform echoes marks; when false the leg resolves marks from its pacing clock. */
  readonly marks: boolean;
  /**
   * What the platform does with marks pending at a clear: `echoed` (Twilio, Telnyx, jambonz `cleared`, native:
   * the leg then ignores those late echoes) or `dropped` (Plivo, Vonage, Asterisk; Exotel unconfirmed, treated
   * as echoed, which is harmless either way). The leg resolves them played=false at the clear in both cases.
   */
  readonly marksOnClear: 'echoed' | 'dropped';
  /**
   * How the call ends from our side (PROTOCOLS.md "Hangup / transfer"): `message` (encodeHangup's message ends it:
   * Asterisk HANGUP, jambonz disconnect, controller JSON, native), `close` (closing the socket ends it: Twilio with no
   * TwiML after <Connect>, Exotel's flow goes on) or `rest` (closing alone does not: Telnyx, Plivo, Vonage; the leg
   * first asks the platform's REST API through GatewayDeps.control, then closes).
   */
  readonly hangupVia: 'message' | 'close' | 'rest';
  /** `message` (encodeTransfer), `rest` (the platform's REST API through GatewayDeps.control) or `none`. */
  readonly transferVia: 'message' | 'rest' | 'none';
  /** Duration of one outbound message, ms. */
  readonly frameMs: number;
  /**
   * A partial last message is padded with silence to a multiple of this many bytes (0 = sent as it is; -1 = to a
   * whole frame).
   */
  readonly padTo: number;
  /** Inbound audio frames are binary WebSocket messages (else base64 in JSON text). */
  readonly binaryAudio: boolean;
  /** Sec-WebSocket-Protocol values we echo when the client offers them. */
  readonly subprotocols: readonly string[];
}

export interface ProtocolAdapter extends ProtocolCaps {
  onText(text: string, sink: InboundSink): void;
  onBinary(data: Uint8Array, sink: InboundSink): void;
  /** First messages once the call is accepted (native `ready`). */
  accepted(): string | undefined;
  /** One outbound message. `frame` is a reused view: copy it if the result keeps the bytes. */
  encodeAudio(frame: Uint8Array): string | Uint8Array;
  encodeMark(name: string): string | undefined;
  encodeClear(): string | undefined;
  /** undefined: closing the socket is this protocol's hangup. */
  encodeHangup(reason: string): string | undefined;
  /** undefined: no transfer on this wire (use the platform's REST API). */
  encodeTransfer(target: string, mode: TransferMode, summary?: string): string | undefined;
  encodeDtmf(digits: string): string | undefined;
  encodeEvent(event: LegOutboundEvent): string | undefined;
}

/** Per-connection context an adapter may read (query parameters some platforms let us add). */
export interface AdapterContext {
  query: URLSearchParams;
}

export type AdapterFactory = (ctx: AdapterContext) => ProtocolAdapter;

/** Flat string map of custom parameters: non-string values are JSON-encoded, nested objects skipped beyond depth 1. */
export function stringParams(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return out;
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (typeof val === 'string') out[k] = val;
    else if (typeof val === 'number' || typeof val === 'boolean') out[k] = String(val);
    else if (val !== null && val !== undefined) out[k] = JSON.stringify(val);
  }
  return out;
}

export function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** A counter that may arrive as a string or a number (Twilio strings, Plivo numbers, Exotel both). */
export function counter(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Number.NaN;
  return Number.isInteger(n) ? n : -1;
}

/** Parses a JSON object; undefined for invalid JSON or a non-object. */
export function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

const DIGIT = /^[0-9*#A-Da-d]$/;
export function validDigit(d: unknown): d is string {
  return typeof d === 'string' && DIGIT.test(d);
}

/** Text-only protocols: binary is bad input (Twilio warns 31950 the other way round). */
export function binaryNotExpected(sink: InboundSink): void {
  sink.malformed('binary frame where JSON text is expected');
}

let generated = 0;
/** A call id for protocols that carry none on the socket (Vonage without headers, FreeSWITCH without metadata). */
export function generatedCallId(protocol: string): string {
  generated = (generated + 1) % 1e9;
  return `${protocol}-${Date.now().toString(36)}-${generated.toString(36)}`;
}
