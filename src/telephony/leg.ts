import type { AudioChunk, AudioFormat } from '../audio/format.js';
import type { CallControl } from './call-control.js';

export type { ControlResult, TransferMode } from './call-control.js';

/**
 * The MediaLeg: what the call session sees of a telephony connection, whatever the wire protocol.
 *
 *   wire adapter (src/telephony/<protocol>.ts)            call session (src/call/session.ts)
 *     start / audio / dtmf / mark / stop      ──────▶      MediaLegHandler callbacks
 *     play / mark / clear / hangup / transfer ◀──────      MediaLeg methods
 *
 * Inbound audio is delivered decoded to PCM16 at `inboundFormat.sampleRate` AND as the raw wire bytes, so a
 * provider that accepts the wire codec (Deepgram mu-law 8 kHz) gets it with no transcoding. Both arrays are views
 * into buffers the leg reuses: valid only during the callback; copy if you keep them.
 *
 * Outbound audio is queued with play() in any format; the leg converts to the wire format only when they differ,
 * cuts it into 20 ms frames and sends them paced in real time from the shared clock with a small lead, so that
 * clear() stops the caller hearing the agent within the lead.
 */
export interface CallStartInfo {
  /** Wire protocol name: twilio, telnyx, plivo, vonage, exotel, freeswitch, audiofork, asterisk, jambonz, native. */
  readonly protocol: string;
  /** The platform's call id (Twilio callSid, Telnyx call_control_id, ...), or one we generated. */
  readonly callId: string;
  /** The platform's stream id where it has one (Twilio streamSid, Telnyx stream_id, Plivo streamId). */
  readonly streamId?: string;
  readonly from?: string;
  readonly to?: string;
  /** Custom parameters from the start message (Twilio <Parameter>, Telnyx custom_parameters, Plivo extra_headers...). */
  readonly customParameters: Readonly<Record<string, string>>;
  /** The format of the audio on the wire from the caller. */
  readonly inboundFormat: AudioFormat;
  /** The format the wire expects back. */
  readonly outboundFormat: AudioFormat;
  /** Whether the protocol reports DTMF as events; when false the leg detects DTMF in-band. */
  readonly dtmfEvents: boolean;
  /** Whether the protocol echoes marks (so playedSamples is confirmed, not estimated). */
  readonly marks: boolean;
  /** Remote address of the WebSocket peer. */
  readonly remoteAddress?: string;
}

export type DtmfSource = 'protocol' | 'inband';

export interface MediaLegHandler {
  /**
   * One inbound frame (usually 20 ms). `pcm` is PCM16 at inboundFormat.sampleRate; `wire` is the same audio in
   * inboundFormat. Views into reused buffers.
   */
  onAudio(pcm: Int16Array, wire: Uint8Array): void;
  onDtmf(digit: string, source: DtmfSource, durationMs?: number): void;
  /** A mark echoed by the platform (or resolved by a clear: played=false). */
  onMark(name: string, played: boolean): void;
  /** All audio queued with play() has been sent and (where the protocol confirms it) played. */
  onPlaybackIdle?(): void;
  /** The call or stream ended: caller hangup, platform stop, socket closed. Called once. */
  onStop(reason: string): void;
}

export interface LegStats {
  framesIn: number;
  framesOut: number;
  malformed: number;
  /** Inbound frames detected missing (sequence gaps). */
  gaps: number;
  /** Outbound frames dropped (queue overflow, peer not reading). */
  dropped: number;
}

/** The call's leg; its call control (hangup, transfer, DTMF) is the one interface of src/telephony/call-control.ts. */
export interface MediaLeg extends CallControl {
  readonly info: CallStartInfo;
  setHandler(handler: MediaLegHandler): void;
  /** Queue audio for playback; converted to the wire format and paced in 20 ms frames. */
  play(chunk: AudioChunk): void;
  /** A named marker after everything queued so far; the handler's onMark fires when the caller has heard it. */
  mark(name: string): void;
  /** Barge-in: drop everything queued, tell the platform to drop its buffer; pending marks resolve played=false. */
  clear(): void;
  /** Samples (at outboundFormat.sampleRate) the caller has actually heard since the leg started. */
  readonly playedSamples: number;
  /** Samples queued in the engine or sent to the platform but not yet heard. */
  readonly pendingSamples: number;
  /** Protocol-level events for clients that understand them (native: transcript, turn.metrics). No-op elsewhere. */
  sendEvent(event: LegOutboundEvent): void;
  readonly stats: Readonly<LegStats>;
  readonly closed: boolean;
  /**
   * Opt-in raw wire tap (settings.recordWire): every inbound WebSocket message of the call, text as a string and
   * binary as bytes, with its arrival time (performance.now() ms), starting with the messages that arrived before
   * the session existed (connected / start). Undefined stops it. Optional: legs that are not wire legs lack it.
   */
  setWireTap?(tap: WireTap | undefined): void;
}

export type WireTap = (data: string | Uint8Array, atMs: number) => void;

export type LegOutboundEvent =
  | { type: 'transcript'; role: 'user' | 'assistant'; text: string; final: boolean; turn: number }
  | { type: 'event'; name: string; data: Record<string, unknown> };
