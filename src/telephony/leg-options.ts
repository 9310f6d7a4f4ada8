import type { AudioFormat } from '../audio/format.js';
import type { Logger } from '../log.js';
import type { ProtocolAdapter, StartMeta } from './adapter.js';
import type { CallControl } from './call-control.js';
import type { CallStartInfo } from './leg.js';
import type { Pacer } from './pacer.js';

/** What a wire leg (media-leg.ts WireLeg) is built from: the socket, the shared clock, converters, the carrier. */
/** What the outbound side needs from the socket; the gateway provides it over `ws`. */
export interface WireTransport {
  send(data: string | Uint8Array): void;
  /** Bytes accepted by send() but not yet written to the kernel (ws.bufferedAmount). */
  readonly bufferedAmount: number;
  close(code: number, reason: string): void;
  /**
   * Hold writes until uncork(), so that the frames of one pacer burst leave in one syscall (net.Socket cork).
   * Optional: a transport without it writes each message as it comes.
   */
  cork?(): void;
  uncork?(): void;
}

/** In-band DTMF for protocols without DTMF events: push PCM16 frames at `inbound.sampleRate`. */
export interface InbandDtmf {
  push(pcm: Int16Array): void;
}
export type InbandDtmfFactory = (
  inbound: AudioFormat,
  onDigit: (digit: string, durationMs: number) => void,
) => InbandDtmf | undefined;

/** Converts audio between two formats (src/audio/convert.ts AudioConverter). */
export type ConverterFactory = (from: AudioFormat, to: AudioFormat) => { convert(bytes: Uint8Array): Uint8Array };

export interface LegOptions {
  adapter: ProtocolAdapter;
  meta: StartMeta;
  transport: WireTransport;
  pacer: Pacer;
  logger: Logger;
  remoteAddress?: string;
  leadMs: number;
  /** ws.bufferedAmount cap: beyond it audio frames and events are dropped and counted; at 4x the call closes. */
  maxBufferedBytes: number;
  /** Outbound ring bound, ms of audio; play() beyond it drops the excess (counted). */
  maxQueueMs?: number;
  converter: ConverterFactory;
  inbandDtmf?: InbandDtmfFactory;
  /**
   * The carrier beside the socket for this call, bound to the leg's call info: the platform's REST call control
   * (GatewayDeps.control), the SIP dialog. Used where the adapter says 'rest' (hangupVia / transferVia) and for
   * DTMF the wire has no message for.
   */
  carrier?: (info: CallStartInfo) => CallControl;
}
