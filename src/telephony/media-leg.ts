import { generateDtmf } from '../audio/dtmf.js';
import { type AudioChunk, type AudioFormat, bytesPerMs, bytesPerSample, pcmFormat } from '../audio/format.js';
import { alawDecode, mulawDecode } from '../audio/g711.js';
import type { Logger } from '../log.js';
import type { ProtocolAdapter } from './adapter.js';
import type { CallControl, ControlResult } from './call-control.js';
import { CloseCode } from './close-codes.js';
import type {
  CallStartInfo,
  DtmfSource,
  LegOutboundEvent,
  LegStats,
  MediaLeg,
  MediaLegHandler,
  TransferMode,
  WireTap,
} from './leg.js';
import type { InbandDtmf, LegOptions, WireTransport } from './leg-options.js';
import type { Paced, Pacer } from './pacer.js';
import { Playout } from './playout.js';

export type { ConverterFactory, InbandDtmf, InbandDtmfFactory, LegOptions, WireTransport } from './leg-options.js';

/**
 * The one MediaLeg implementation, on top of any ProtocolAdapter.
 *
 * Inbound (here): wire audio is re-chunked into 20 ms frames in a buffer allocated once per call, decoded to PCM16
 * into another (a pcm16 wire frame IS its PCM: same bytes), checked for in-band DTMF when the protocol sends no DTMF
 * events, and handed to the session as views.
 *
 * Outbound: the playout (playout.ts): bounded ring, pacing on the shared clock, marks, clear, the ear clock.
 *
 * Call control (here): the one interface of call-control.ts, by the protocol's message, else the carrier beside the
 * socket (platform REST, SIP dialog), else closing the socket.
 */

const FRAME_MS = 20;

/** Inbound messages kept for a wire tap that the session may set right after the call starts. */
const PRE_WIRE_MAX = 256;

export class WireLeg implements MediaLeg, Paced {
  readonly info: CallStartInfo;
  readonly stats: LegStats = { framesIn: 0, framesOut: 0, malformed: 0, gaps: 0, dropped: 0 };
  private handler: MediaLegHandler | undefined;
  private readonly adapter: ProtocolAdapter;
  private readonly transport: WireTransport;
  private readonly pacer: Pacer;
  private readonly logger: Logger;
  private readonly carrier: CallControl | undefined;
  private readonly out: Playout;
  private hanging: Promise<ControlResult> | undefined;
  private isClosed = false;
  private stopped = false;
  private endReason = '';

  // inbound
  private readonly inFormat: AudioFormat;
  private readonly inAcc: Uint8Array;
  private inLen = 0;
  private readonly pcm: Int16Array;
  private inband: InbandDtmf | undefined;
  private lastSeq = -1;

  private readonly outFormat: AudioFormat;
  private warned = new Set<string>();

  constructor(opts: LegOptions) {
    const { adapter, meta } = opts;
    this.adapter = adapter;
    this.transport = opts.transport;
    this.pacer = opts.pacer;
    this.logger = opts.logger;
    this.info = {
      protocol: adapter.name,
      callId: meta.callId,
      streamId: meta.streamId,
      from: meta.from,
      to: meta.to,
      customParameters: meta.customParameters,
      inboundFormat: meta.inboundFormat,
      outboundFormat: meta.outboundFormat,
      dtmfEvents: adapter.dtmfEvents,
      marks: adapter.marks,
      remoteAddress: opts.remoteAddress,
    };
    this.carrier = opts.carrier?.(this.info);

    this.inFormat = meta.inboundFormat;
    const inFrameBytes = bytesPerMs(this.inFormat, FRAME_MS);
    this.pcm = new Int16Array(inFrameBytes / bytesPerSample(this.inFormat));
    // pcm16 on the wire: the accumulator IS the PCM buffer, so decoding costs nothing.
    this.inAcc = this.inFormat.encoding === 'pcm16' ? new Uint8Array(this.pcm.buffer) : new Uint8Array(inFrameBytes);
    if (!adapter.dtmfEvents && opts.inbandDtmf) {
      this.inband = opts.inbandDtmf(this.inFormat, (digit, durationMs) => this.onDigit(digit, 'inband', durationMs));
    }

    this.outFormat = meta.outboundFormat;
    this.out = new Playout(
      {
        closed: () => this.isClosed,
        stats: this.stats,
        onMark: (name, played) => this.handler?.onMark(name, played),
        onIdle: () => this.handler?.onPlaybackIdle?.(),
        warnOnce: (key, msg) => this.warnOnce(key, msg),
        closeWith: (code, reason) => this.closeWith(code, reason),
      },
      {
        adapter,
        transport: opts.transport,
        pacer: opts.pacer,
        format: this.outFormat,
        ...(meta.outboundFrameBytes !== undefined ? { frameBytes: meta.outboundFrameBytes } : {}),
        leadMs: opts.leadMs,
        maxBufferedBytes: opts.maxBufferedBytes,
        ...(opts.maxQueueMs !== undefined ? { maxQueueMs: opts.maxQueueMs } : {}),
        converter: opts.converter,
      },
    );
    this.pacer.add(this);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Raw inbound messages kept from before the session attached a tap (bounded; dropped once a tap is set). */
  private preWire: { data: string | Uint8Array; atMs: number }[] | undefined;
  private wireTap: WireTap | undefined;

  /** The connection hands over what it captured before this leg existed (connected / start / early audio). */
  adoptPreWire(messages: { data: string | Uint8Array; atMs: number }[]): void {
    this.preWire = messages;
  }

  setWireTap(tap: WireTap | undefined): void {
    this.wireTap = tap;
    const pre = this.preWire;
    this.preWire = undefined;
    if (tap && pre) for (const m of pre) tap(m.data, m.atMs);
  }

  /** One inbound wire message; a no-op (no conversion, no allocation) unless a tap is set. */
  tapWire(buf: Buffer, isBinary: boolean, atMs: number): void {
    const tap = this.wireTap;
    if (tap) tap(isBinary ? buf : buf.toString('utf8'), atMs);
    else if (this.preWire && this.preWire.length < PRE_WIRE_MAX) {
      this.preWire.push({ data: isBinary ? buf : buf.toString('utf8'), atMs });
    }
  }

  setHandler(handler: MediaLegHandler): void {
    this.handler = handler;
    if (this.isClosed && !this.stopped) {
      this.stopped = true;
      handler.onStop(this.endReason);
    }
  }

  // ---------------------------------------------------------------- inbound (called by the gateway's sink)

  /** Wire bytes in inboundFormat, any length; re-chunked to 20 ms. */
  receiveAudio(wire: Uint8Array): void {
    if (this.isClosed) return;
    const frameBytes = this.inAcc.length;
    let off = 0;
    while (off < wire.length) {
      const n = Math.min(frameBytes - this.inLen, wire.length - off);
      this.inAcc.set(wire.subarray(off, off + n), this.inLen);
      this.inLen += n;
      off += n;
      if (this.inLen === frameBytes) {
        this.inLen = 0;
        this.emitFrame();
      }
    }
  }

  private emitFrame(): void {
    this.stats.framesIn++;
    if (this.inFormat.encoding === 'mulaw') mulawDecode(this.inAcc, this.pcm);
    else if (this.inFormat.encoding === 'alaw') alawDecode(this.inAcc, this.pcm);
    this.inband?.push(this.pcm);
    this.handler?.onAudio(this.pcm, this.inAcc);
  }

  receiveSeq(n: number): void {
    if (n < 0) return;
    if (this.lastSeq >= 0 && n > this.lastSeq + 1) this.stats.gaps += n - this.lastSeq - 1;
    if (n > this.lastSeq) this.lastSeq = n;
  }

  receiveDtmf(digit: string, durationMs?: number): void {
    // A platform (or controller) that forwards DTMF events makes in-band detection redundant: stop it, so that
    // each key is reported once.
    this.inband = undefined;
    this.onDigit(digit, 'protocol', durationMs);
  }

  private onDigit(digit: string, source: DtmfSource, durationMs?: number): void {
    if (!this.isClosed) this.handler?.onDtmf(digit, source, durationMs);
  }

  /** The platform echoed a mark. */
  receiveMark(name: string): void {
    this.out.receiveMark(name);
  }

  /** The platform (or a native client) dropped its playback buffer. */
  receiveCleared(): void {
    this.out.receiveCleared();
  }

  // ---------------------------------------------------------------- outbound (playout.ts)

  play(chunk: AudioChunk): void {
    this.out.play(chunk);
  }

  mark(name: string): void {
    this.out.mark(name);
  }

  clear(): void {
    this.out.clear();
  }

  get playedSamples(): number {
    return this.out.playedSamples;
  }

  get pendingSamples(): number {
    return this.out.pendingSamples;
  }

  /** Platform flow control: while paused nothing is sent (audio waits in the bounded ring). */
  setPaused(paused: boolean): void {
    this.out.setPaused(paused);
  }

  /** Called by the shared pacer: send what is due. */
  pump(now: number): void {
    this.out.pump(now);
  }

  // ---------------------------------------------------------------- call control (call-control.ts)

  /** DTMF to the far end: the protocol's message, else the carrier's (SIP: RFC 4733 events), else in-band tones. */
  sendDtmf(digits: string): ControlResult {
    if (this.isClosed) return 'already-ended';
    const msg = this.adapter.encodeDtmf(digits);
    if (msg !== undefined) {
      this.transport.send(msg);
      return 'done';
    }
    if (this.carrier?.sendDtmf(digits) === 'done') return 'done';
    // No DTMF message on this wire: in-band tones after what is already queued (a tone pair is what any far end
    // understands).
    let pcm: Int16Array;
    try {
      pcm = generateDtmf(digits, { sampleRate: this.outFormat.sampleRate });
    } catch {
      this.warnOnce('dtmf-out', `sendDtmf: not DTMF digits: ${JSON.stringify(digits)}`);
      return 'unsupported';
    }
    this.play({ format: pcmFormat(this.outFormat.sampleRate), data: new Uint8Array(pcm.buffer, 0, pcm.byteLength) });
    return 'done';
  }

  sendEvent(event: LegOutboundEvent): void {
    if (this.isClosed) return;
    const msg = this.adapter.encodeEvent(event);
    if (msg === undefined) return;
    if (this.out.backpressured()) return;
    this.transport.send(msg);
  }

  /**
   * End the call. Where closing the socket alone does not (hangupVia 'rest': Telnyx, Plivo, Vonage, SIP), the
   * carrier's hangup goes first (platform REST, SIP BYE); the socket is closed whatever it answers. Never rejects
   * (callers fire and forget it): a carrier failure is logged with the call id. Concurrent calls share one attempt.
   */
  hangup(reason: string): Promise<ControlResult> {
    if (this.isClosed) return Promise.resolve('already-ended');
    this.hanging ??= this.hangupOnce(reason);
    return this.hanging;
  }

  private async hangupOnce(reason: string): Promise<ControlResult> {
    if (this.adapter.hangupVia === 'rest') {
      try {
        const r = this.carrier ? await this.carrier.hangup(reason) : 'unsupported';
        if (r === 'unsupported') {
          this.warnOnce(
            'hangup-rest',
            `hangup: closing a ${this.adapter.name} stream may not end the call, ` +
              'and no REST call control is available for it',
          );
        }
      } catch (err) {
        // The call may still be up at the platform: worth an operator's attention.
        this.logger.error(
          { callId: this.info.callId, protocol: this.adapter.name, err: (err as Error).message },
          'platform hangup failed; closing the stream anyway',
        );
      }
    }
    if (!this.isClosed) {
      const msg = this.adapter.encodeHangup(reason);
      if (msg !== undefined) this.transport.send(msg);
      this.closeWith(CloseCode.NORMAL, reason || 'hangup');
    }
    return 'done';
  }

  /**
   * Hand the call over: the protocol's transfer message (transferVia 'message'), else the carrier's (transferVia
   * 'rest': platform REST, SIP REFER); then the stream is closed. 'unsupported' (the reason logged once), leaving
   * the stream up, when neither can do it; rejects when the carrier tried and failed.
   */
  async transfer(target: string, mode: TransferMode, summary?: string): Promise<ControlResult> {
    if (this.isClosed) return 'already-ended';
    if (this.adapter.transferVia === 'message') {
      const msg = this.adapter.encodeTransfer(target, mode, summary);
      if (msg !== undefined) {
        this.transport.send(msg);
        this.closeWith(CloseCode.NORMAL, 'transfer');
        return 'done';
      }
    }
    if (this.adapter.transferVia === 'rest' && this.carrier) {
      const r = await this.carrier.transfer(target, mode, summary);
      if (r === 'done') {
        this.closeWith(CloseCode.NORMAL, 'transfer');
        return 'done';
      }
      this.warnOnce(
        'transfer',
        `transfer: the ${this.adapter.name} call control cannot transfer this call ` +
          '(no active plugin, no platform call id, or not supported by the platform)',
      );
      return r;
    }
    this.warnOnce(
      'transfer',
      this.adapter.transferVia === 'rest'
        ? `transfer is not a ${this.adapter.name} socket message and no REST call control is configured`
        : `transfer is not possible on ${this.adapter.name}: no socket message and no REST call control`,
    );
    return 'unsupported';
  }

  /** Close the socket (the gateway then calls end()). */
  closeWith(code: number, reason: string): void {
    if (this.isClosed) return;
    this.transport.close(code, reason);
    this.end(reason);
  }

  /** The call is over (peer stop, socket closed, our close). Idempotent; onStop fires once. */
  end(reason: string): void {
    if (!this.isClosed) {
      this.isClosed = true;
      this.pacer.remove(this);
      this.out.stop();
    }
    this.endReason = reason;
    if (!this.stopped && this.handler) {
      this.stopped = true;
      this.handler?.onStop(reason);
    }
  }

  private warnOnce(key: string, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn({ callId: this.info.callId, protocol: this.adapter.name }, msg);
  }
}
