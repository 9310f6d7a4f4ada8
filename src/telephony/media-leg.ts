import { generateDtmf } from '../audio/dtmf.js';
import {
  type AudioChunk,
  type AudioFormat,
  bytesPerMs,
  bytesPerSample,
  formatName,
  pcmFormat,
  sameFormat,
} from '../audio/format.js';
import { alawDecode, mulawDecode } from '../audio/g711.js';
import type { Logger } from '../log.js';
import type { ProtocolAdapter, StartMeta } from './adapter.js';
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
import type { Paced, Pacer } from './pacer.js';
import { ByteRing } from './ring.js';

/**
 * The one MediaLeg implementation, on top of any ProtocolAdapter.
 *
 * Inbound: wire audio is re-chunked into 20 ms frames in a buffer allocated once per call, decoded to PCM16 into
 * another (a pcm16 wire frame IS its PCM: same bytes), checked for in-band DTMF when the protocol sends no DTMF
 * events, and handed to the session as views.
 *
 * Outbound: play() converts to the wire format only when the formats differ and appends to a bounded ring; the
 * shared pacer (pacer.ts) pumps each leg so that what the platform holds never exceeds `leadMs` (or one message,
 * when a message is longer: Exotel, FreeSWITCH). Marks wait in the stream at their sample position and go on the
 * wire only once the audio before them was sent. The clock of the caller's ear:
 *
 *   writtenSamples ──────────────┐            playEnd (ms): when the platform will have played all we sent
 *   |== heard ==|== in flight ==|== ring (not sent) ==|
 *               ^ playedSamples = writtenSamples - (playEnd - now) * rate, never below the last echoed mark
 *
 * clear() drops the ring, sends the protocol's clear, resolves every pending mark played=false (late echoes of
 * those names are then ignored: Twilio and Telnyx echo pending marks on clear, Plivo does not) and freezes
 * writtenSamples at what was heard.
 */

/** What the outbound side needs from the socket; the gateway provides it over `ws`. */
export interface WireTransport {
  send(data: string | Uint8Array): void;
  /** Bytes accepted by send() but not yet written to the kernel (ws.bufferedAmount). */
  readonly bufferedAmount: number;
  close(code: number, reason: string): void;
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

interface PendingMark {
  name: string;
  /** Stream position, samples at the outbound rate. */
  pos: number;
  sent: boolean;
}

const FRAME_MS = 20;
const MAX_CLEARED_NAMES = 256;
const MAX_PENDING_MARKS = 1024;
const SILENCE: Record<AudioFormat['encoding'], number> = { pcm16: 0, mulaw: 0xff, alaw: 0xd5 };

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
  private readonly maxBufferedBytes: number;
  private readonly converterFactory: ConverterFactory;
  private readonly carrier: CallControl | undefined;
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

  // outbound
  private readonly outFormat: AudioFormat;
  private readonly outBps: number;
  private readonly outBytesPerMs: number;
  private readonly frameBytes: number;
  private readonly frameDurMs: number;
  private readonly leadMs: number;
  private readonly ring: ByteRing;
  private readonly frame: Buffer;
  private readonly converters = new Map<string, { convert(bytes: Uint8Array): Uint8Array }>();
  private writtenSamples = 0;
  private playEnd = 0;
  private confirmedSamples = 0;
  private playedFloor = 0;
  private marks: PendingMark[] = [];
  private readonly clearedNames = new Set<string>();
  private clearSent = false;
  private busy = false;
  private paused = false;
  private warned = new Set<string>();

  constructor(opts: LegOptions) {
    const { adapter, meta } = opts;
    this.adapter = adapter;
    this.transport = opts.transport;
    this.pacer = opts.pacer;
    this.logger = opts.logger;
    this.maxBufferedBytes = opts.maxBufferedBytes;
    this.converterFactory = opts.converter;
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
    this.outBps = bytesPerSample(this.outFormat);
    this.outBytesPerMs = (this.outFormat.sampleRate * this.outBps) / 1000;
    this.frameBytes = meta.outboundFrameBytes ?? bytesPerMs(this.outFormat, adapter.frameMs);
    this.frameDurMs = this.frameBytes / this.outBytesPerMs;
    this.leadMs = Math.max(opts.leadMs, this.frameDurMs);
    // A Buffer, so that base64 encoders use it as is (no view object per frame).
    this.frame = Buffer.alloc(this.frameBytes);
    const maxQueueMs = opts.maxQueueMs ?? 120_000;
    this.ring = new ByteRing(Math.ceil(maxQueueMs * this.outBytesPerMs), this.frameBytes * 8);
    this.playEnd = this.pacer.now();
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
    if (this.clearedNames.delete(name)) return; // echo of a mark we already resolved as cleared
    let i = 0;
    while (i < this.marks.length && !(this.marks[i]!.sent && this.marks[i]!.name === name)) i++;
    if (i === this.marks.length) return; // unknown or stale name: nothing pending under it
    // Marks play in order: everything before this one has been heard too.
    const done = this.marks.splice(0, i + 1);
    const last = done[done.length - 1]!;
    if (last.pos > this.confirmedSamples) this.confirmedSamples = last.pos;
    for (const m of done) this.handler?.onMark(m.name, true);
    this.checkIdle(this.pacer.now());
  }

  /** The platform (or a native client) dropped its playback buffer. */
  receiveCleared(): void {
    if (this.clearSent) {
      this.clearSent = false;
      return;
    }
    this.dropQueued(false);
  }

  // ---------------------------------------------------------------- outbound

  play(chunk: AudioChunk): void {
    if (this.isClosed || chunk.data.length === 0) return;
    let data = chunk.data;
    if (!sameFormat(chunk.format, this.outFormat)) {
      const key = formatName(chunk.format);
      let conv = this.converters.get(key);
      if (!conv) {
        conv = this.converterFactory(chunk.format, this.outFormat);
        this.converters.set(key, conv);
      }
      data = conv.convert(data);
    } else if (this.outBps === 2 && (data.length & 1) === 1) {
      // Half a sample would shift every later frame by one byte: drop it (converters carry it; identity cannot).
      data = data.subarray(0, data.length - 1);
      this.warnOnce('odd-play', 'play(): odd-length PCM16 chunk, last byte dropped');
    }
    const written = this.ring.write(data);
    if (written < data.length) {
      this.stats.dropped += Math.ceil((data.length - written) / this.frameBytes);
      this.warnOnce('queue-full', 'outbound queue full: audio dropped');
    }
    this.busy = true;
    this.pump(this.pacer.now());
  }

  mark(name: string): void {
    if (this.isClosed) return;
    if (this.marks.length >= MAX_PENDING_MARKS) {
      // Bounded like every queue: a platform that never echoes cannot grow this without limit.
      const oldest = this.marks.shift()!;
      this.warnOnce('marks-full', 'too many pending marks: the oldest resolved as not played');
      this.handler?.onMark(oldest.name, false);
    }
    this.marks.push({ name, pos: this.writtenSamples + this.ring.length / this.outBps, sent: false });
    this.busy = true;
    this.pump(this.pacer.now());
  }

  clear(): void {
    if (this.isClosed) return;
    const msg = this.adapter.encodeClear();
    // Urgent lane (STYLE.md 7): control bypasses the media queue and the bufferedAmount drop policy.
    if (msg !== undefined) {
      this.clearSent = true;
      this.transport.send(msg);
    }
    this.dropQueued(true);
  }

  private dropQueued(fromUs: boolean): void {
    const now = this.pacer.now();
    const heard = this.playedAt(now);
    this.ring.clear();
    const pending = this.marks;
    this.marks = [];
    for (const m of pending) {
      if (fromUs && m.sent && this.adapter.marksOnClear === 'echoed') {
        if (this.clearedNames.size >= MAX_CLEARED_NAMES) this.clearedNames.clear();
        this.clearedNames.add(m.name);
      }
    }
    this.writtenSamples = heard;
    this.playEnd = now;
    for (const m of pending) this.handler?.onMark(m.name, false);
    this.checkIdle(now);
  }

  get playedSamples(): number {
    return this.playedAt(this.pacer.now());
  }

  get pendingSamples(): number {
    return this.writtenSamples + this.ring.length / this.outBps - this.playedSamples;
  }

  private playedAt(now: number): number {
    const inFlightMs = this.playEnd > now ? this.playEnd - now : 0;
    let est = this.writtenSamples - Math.round((inFlightMs * this.outFormat.sampleRate) / 1000);
    if (est < this.confirmedSamples) est = this.confirmedSamples;
    if (est > this.writtenSamples) est = this.writtenSamples;
    if (est < this.playedFloor) est = this.playedFloor;
    this.playedFloor = est;
    return est;
  }

  /** Platform flow control: while paused nothing is sent (audio waits in the bounded ring). */
  setPaused(paused: boolean): void {
    this.paused = paused;
    if (!paused) this.pump(this.pacer.now());
  }

  /** Called by the shared pacer (and right after play/mark): send what is due so as to stay `leadMs` ahead. */
  pump(now: number): void {
    if (this.isClosed || this.paused) return;
    while (this.playEnd - now < this.leadMs) {
      const avail = this.ring.length;
      if (avail === 0) break;
      let n: number;
      if (avail >= this.frameBytes) n = this.frameBytes;
      else if (this.partialDue(now, avail)) n = avail;
      else break;
      this.ring.read(this.frame, n);
      let len = n;
      if (n < this.frameBytes && this.adapter.padTo !== 0) {
        const step = this.adapter.padTo < 0 ? this.frameBytes : this.adapter.padTo;
        len = Math.min(this.frameBytes, Math.ceil(n / step) * step);
        this.frame.fill(SILENCE[this.outFormat.encoding], n, len);
      }
      if (this.outFormat.encoding === 'pcm16' && (len & 1) === 1) len--; // never half a sample
      this.sendAudio(len === this.frameBytes ? this.frame : this.frame.subarray(0, len));
      this.writtenSamples += n / this.outBps;
      this.playEnd = Math.max(this.playEnd, now) + len / this.outBytesPerMs;
      this.sendDueMarks();
      if (this.isClosed) return;
    }
    this.sendDueMarks();
    if (!this.adapter.marks) this.resolveMarksByClock(now);
    this.checkIdle(now);
  }

  /**
   * A partial message goes out when a mark waits on it (the audio before a mark must be sent for the mark to be),
   * or when the platform has run dry (holding it back would only add silence). Where the protocol needs whole
   * frames it is padded with silence: a TTS slower than real time therefore gets short silences between its chunks
   * instead of a stall.
   */
  private partialDue(now: number, avail: number): boolean {
    const next = this.marks.find((m) => !m.sent);
    if (next && next.pos <= this.writtenSamples + avail / this.outBps) return true;
    return this.playEnd <= now;
  }

  private sendAudio(bytes: Uint8Array): void {
    if (this.backpressured()) return;
    this.transport.send(this.adapter.encodeAudio(bytes));
    this.stats.framesOut++;
  }

  private sendDueMarks(): void {
    for (const m of this.marks) {
      if (m.sent) continue;
      if (m.pos > this.writtenSamples) break;
      m.sent = true;
      const msg = this.adapter.encodeMark(m.name);
      if (msg !== undefined) this.transport.send(msg);
    }
  }

  /** Protocols without mark echoes: a sent mark is heard when the clock says the audio before it has played. */
  private resolveMarksByClock(now: number): void {
    if (this.marks.length === 0) return;
    const heard = this.playedAt(now);
    while (this.marks.length > 0 && this.marks[0]!.sent && this.marks[0]!.pos <= heard) {
      const m = this.marks.shift()!;
      this.handler?.onMark(m.name, true);
    }
  }

  private checkIdle(now: number): void {
    if (!this.busy || this.ring.length > 0 || this.marks.length > 0 || this.playEnd > now) return;
    this.busy = false;
    this.handler?.onPlaybackIdle?.();
  }

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
    if (this.backpressured()) return;
    this.transport.send(msg);
  }

  /**
   * A peer that does not read (STYLE.md 6): past maxBufferedBytes in ws.bufferedAmount, outbound audio and events
   * are dropped and counted rather than grown in memory; past 4x (control messages still queue), the call closes.
   */
  private backpressured(): boolean {
    const buffered = this.transport.bufferedAmount;
    if (buffered <= this.maxBufferedBytes) return false;
    this.stats.dropped++;
    this.warnOnce('backpressure', 'peer not reading: outbound dropped');
    if (buffered > this.maxBufferedBytes * 4) this.closeWith(CloseCode.PROTOCOL, 'peer not reading');
    return true;
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
      this.ring.clear();
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
