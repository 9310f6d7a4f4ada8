import { int16ToBytes, pcmBytesToInt16 } from '../audio/convert.js';
import type { AudioChunk } from '../audio/format.js';
import { G722Decoder, G722Encoder } from '../audio/g722.js';
import type { Logger } from '../log.js';
import type { ProtocolAdapter, StartMeta } from '../telephony/adapter.js';
import type { CallControl, ControlResult } from '../telephony/call-control.js';
import { createConverter, createInbandDtmf } from '../telephony/inband-dtmf.js';
import type {
  CallStartInfo,
  LegOutboundEvent,
  LegStats,
  MediaLeg,
  MediaLegHandler,
  TransferMode,
  WireTap,
} from '../telephony/leg.js';
import { WireLeg } from '../telephony/media-leg.js';
import type { Pacer } from '../telephony/pacer.js';
import type { RtpSession } from './rtp-session.js';
import type { SipCodec } from './sdp.js';

/**
 * A SIP call as a MediaLeg: the shared WireLeg (src/telephony/media-leg.ts) does the framing, format conversion,
 * outbound pacing on the shared clock and the ear clock; this file only plugs RTP under it and the SIP dialog
 * as the carrier of the one call-control interface (src/telephony/call-control.ts): hangup is a BYE, a cold transfer
 * a REFER, DTMF RFC 4733 events. The session never learns that the call is SIP.
 *
 * G.711 payloads pass to the WireLeg as they are (it converts); G.722 is decoded here to PCM16 at 16 kHz and
 * encoded back (G722Payload), so the session sees a wideband leg.
 *
 * RTP has no marks (resolved by the pacing clock), no clear message (dropping our queue is enough: the far end
 * holds only what its jitter buffer holds), DTMF as RFC 4733 events both ways (in-band tones when the far end did
 * not offer telephone-event).
 */
const SIP_CAPS: Omit<ProtocolAdapter, 'encodeAudio'> = {
  name: 'sip',
  dtmfEvents: true,
  marks: false,
  marksOnClear: 'dropped',
  hangupVia: 'rest',
  transferVia: 'rest',
  frameMs: 20,
  padTo: -1,
  binaryAudio: true,
  subprotocols: [],
  onText: () => undefined,
  onBinary: () => undefined,
  accepted: () => undefined,
  encodeMark: () => undefined,
  encodeClear: () => undefined,
  encodeHangup: () => undefined,
  encodeTransfer: () => undefined,
  encodeDtmf: () => undefined,
  encodeEvent: () => undefined,
};

/** What the leg needs from the SIP dialog. */
export interface SipDialogControl {
  /** Send BYE (once); 'already-ended' when the dialog is over. */
  bye(reason: string): Promise<'done' | 'already-ended'>;
  /** REFER the caller to `target` (RFC 3515); resolves when the far end accepted it (2xx). */
  refer(target: string): Promise<void>;
  /** The leg closed (after hangup, transfer or an internal close): release the dialog and media. */
  closed(reason: string): void;
}

export interface SipLegOptions {
  meta: StartMeta;
  /** The far end offered telephone-event (RFC 4733); without it DTMF is detected in-band. */
  dtmfEvents: boolean;
  /** The negotiated RTP audio codec; meta's formats are what the leg presents (PCM16 16 kHz for G.722). */
  codec: SipCodec;
  rtp: RtpSession;
  pacer: Pacer;
  logger: Logger;
  remoteAddress: string;
  leadMs: number;
  dialog: SipDialogControl;
}

/** G.722 on the wire, PCM16 16 kHz to the session: one encoder and one decoder per call, buffers reused. */
class G722Payload {
  private readonly encoder = new G722Encoder();
  private readonly decoder = new G722Decoder();
  private pcm = new Int16Array(960);
  private bytes = new Uint8Array(480);

  /** RTP payload -> PCM16 bytes (a view valid until the next call). */
  decode(payload: Uint8Array): Uint8Array {
    if (this.pcm.length < payload.length * 2) this.pcm = new Int16Array(payload.length * 2);
    return int16ToBytes(this.decoder.decode(payload, this.pcm.subarray(0, payload.length * 2)));
  }

  /** One outbound PCM16 frame -> RTP payload (a view valid until the next call). */
  encode(frame: Uint8Array): Uint8Array {
    const pcm = pcmBytesToInt16(frame);
    const n = pcm.length >> 1;
    if (this.bytes.length < n) this.bytes = new Uint8Array(n);
    return this.encoder.encode(pcm, this.bytes.subarray(0, n));
  }
}

export class SipLeg implements MediaLeg {
  private readonly wire: WireLeg;
  private readonly g722: G722Payload | undefined;

  constructor(opts: SipLegOptions) {
    const { rtp, dialog } = opts;
    const g722 = opts.codec === 'G722' ? new G722Payload() : undefined;
    this.g722 = g722;
    const adapter: ProtocolAdapter = { ...SIP_CAPS, dtmfEvents: opts.dtmfEvents, encodeAudio: (frame) => frame };
    const carrier: CallControl = {
      hangup: (reason) => dialog.bye(reason),
      transfer: async (target, mode) => {
        if (mode !== 'cold') return 'unsupported';
        await dialog.refer(target);
        return 'done';
      },
      sendDtmf: (digits) => (rtp.sendDtmf(digits) ? 'done' : 'unsupported'),
    };
    this.wire = new WireLeg({
      adapter,
      meta: opts.meta,
      transport: {
        send: (d) => {
          if (typeof d !== 'string') rtp.sendAudio(g722 ? g722.encode(d) : d);
        },
        bufferedAmount: 0,
        close: (_code, reason) => dialog.closed(reason),
      },
      pacer: opts.pacer,
      logger: opts.logger,
      remoteAddress: opts.remoteAddress,
      leadMs: opts.leadMs,
      maxBufferedBytes: Number.POSITIVE_INFINITY,
      converter: createConverter,
      inbandDtmf: createInbandDtmf,
      carrier: () => carrier,
    });
  }

  // ------------------------------------------------------------ from RTP and the dialog

  receiveAudio(payload: Uint8Array): void {
    this.wire.receiveAudio(this.g722 ? this.g722.decode(payload) : payload);
  }

  receiveDtmf(digit: string, durationMs: number): void {
    this.wire.receiveDtmf(digit, durationMs);
  }

  /** The far end ended the call (BYE, CANCEL, ACK timeout). */
  end(reason: string): void {
    this.wire.end(reason);
  }

  // ------------------------------------------------------------ MediaLeg

  get info(): CallStartInfo {
    return this.wire.info;
  }
  get stats(): Readonly<LegStats> {
    return this.wire.stats;
  }
  get closed(): boolean {
    return this.wire.closed;
  }
  get playedSamples(): number {
    return this.wire.playedSamples;
  }
  get pendingSamples(): number {
    return this.wire.pendingSamples;
  }
  setHandler(handler: MediaLegHandler): void {
    this.wire.setHandler(handler);
  }
  play(chunk: AudioChunk): void {
    this.wire.play(chunk);
  }
  mark(name: string): void {
    this.wire.mark(name);
  }
  clear(): void {
    this.wire.clear();
  }
  sendDtmf(digits: string): ControlResult {
    return this.wire.sendDtmf(digits);
  }
  sendEvent(event: LegOutboundEvent): void {
    this.wire.sendEvent(event);
  }
  hangup(reason: string): Promise<ControlResult> {
    return this.wire.hangup(reason);
  }
  transfer(target: string, mode: TransferMode, summary?: string): Promise<ControlResult> {
    return this.wire.transfer(target, mode, summary);
  }
  setWireTap(tap: WireTap | undefined): void {
    this.wire.setWireTap(tap);
  }
}
