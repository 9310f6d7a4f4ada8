import {
  type AudioChunk,
  type AudioFormat,
  bytesPerMs,
  bytesPerSample,
  formatName,
  sameFormat,
} from '../audio/format.js';
import type { ProtocolAdapter } from './adapter.js';
import { CloseCode } from './close-codes.js';
import type { LegStats } from './leg.js';
import type { ConverterFactory, WireTransport } from './leg-options.js';
import type { Pacer } from './pacer.js';
import { ByteRing } from './ring.js';

/**
 * The outbound side of a wire leg: play() converts to the wire format only when the formats differ and appends to
 * a bounded ring; the shared pacer (pacer.ts) pumps each leg so that what the platform holds never exceeds `leadMs`
 * (or one message, when a message is longer: Exotel, FreeSWITCH). Marks wait in the stream at their sample position
 * and go on the wire only once the audio before them was sent. The clock of the caller's ear:
 *
 *   writtenSamples ──────────────┐            playEnd (ms): when the platform will have played all we sent
 *   |== heard ==|== in flight ==|== ring (not sent) ==|
 *               ^ playedSamples = writtenSamples - (playEnd - now) * rate, never below the last echoed mark
 *
 * clear() drops the ring, sends the protocol's clear, resolves every pending mark played=false (late echoes of
 * those names are then ignored: Twilio and Telnyx echo pending marks on clear, Plivo does not) and freezes
 * writtenSamples at what was heard.
 */

/** What the playout asks of its leg. */
export interface PlayoutHost {
  closed(): boolean;
  readonly stats: LegStats;
  /** A mark was heard (played) or dropped by a clear (not played). */
  onMark(name: string, played: boolean): void;
  /** Everything queued has been sent and played. */
  onIdle(): void;
  warnOnce(key: string, msg: string): void;
  closeWith(code: number, reason: string): void;
}

export interface PlayoutOptions {
  adapter: ProtocolAdapter;
  transport: WireTransport;
  pacer: Pacer;
  format: AudioFormat;
  /** Bytes of one outbound message when the protocol fixes it (StartMeta.outboundFrameBytes). */
  frameBytes?: number;
  leadMs: number;
  maxBufferedBytes: number;
  maxQueueMs?: number;
  converter: ConverterFactory;
}

interface PendingMark {
  name: string;
  /** Stream position, samples at the outbound rate. */
  pos: number;
  sent: boolean;
}

const MAX_CLEARED_NAMES = 256;
const MAX_PENDING_MARKS = 1024;
const SILENCE: Record<AudioFormat['encoding'], number> = { pcm16: 0, mulaw: 0xff, alaw: 0xd5 };

export class Playout {
  private readonly host: PlayoutHost;
  private readonly adapter: ProtocolAdapter;
  private readonly transport: WireTransport;
  private readonly pacer: Pacer;
  private readonly maxBufferedBytes: number;
  private readonly converterFactory: ConverterFactory;
  private readonly outFormat: AudioFormat;
  private readonly outBps: number;
  private readonly outBytesPerMs: number;
  private readonly frameBytes: number;
  private readonly frameDurMs: number;
  private readonly leadMs: number;
  /** A burst starts once what the platform holds drops under this (ms), and fills it back up to leadMs. */
  private readonly refillMs: number;
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

  constructor(host: PlayoutHost, opts: PlayoutOptions) {
    this.host = host;
    this.adapter = opts.adapter;
    this.transport = opts.transport;
    this.pacer = opts.pacer;
    this.maxBufferedBytes = opts.maxBufferedBytes;
    this.converterFactory = opts.converter;
    this.outFormat = opts.format;
    this.outBps = bytesPerSample(this.outFormat);
    this.outBytesPerMs = (this.outFormat.sampleRate * this.outBps) / 1000;
    this.frameBytes = opts.frameBytes ?? bytesPerMs(this.outFormat, opts.adapter.frameMs);
    this.frameDurMs = this.frameBytes / this.outBytesPerMs;
    this.leadMs = Math.max(opts.leadMs, this.frameDurMs);
    // Two frames per burst where the lead holds two (20 ms frames, 80 ms lead: 40 ms a burst, never under 50 ms
    // held) and the transport can cork them into one write: half the socket writes of one frame per burst, for the
    // same lead and no frame late. A transport that cannot (RTP: one datagram per packet anyway) keeps its 20 ms
    // cadence, which the far end's jitter buffer prefers.
    const burst = this.transport.cork !== undefined && this.frameDurMs * 2 <= this.leadMs;
    this.refillMs = burst ? this.leadMs - this.frameDurMs : this.leadMs;
    // A Buffer, so that base64 encoders use it as is (no view object per frame).
    this.frame = Buffer.alloc(this.frameBytes);
    const maxQueueMs = opts.maxQueueMs ?? 120_000;
    this.ring = new ByteRing(Math.ceil(maxQueueMs * this.outBytesPerMs), this.frameBytes * 8);
    this.playEnd = this.pacer.now();
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
    for (const m of done) this.host.onMark(m.name, true);
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

  play(chunk: AudioChunk): void {
    if (this.host.closed() || chunk.data.length === 0) return;
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
      this.host.warnOnce('odd-play', 'play(): odd-length PCM16 chunk, last byte dropped');
    }
    const written = this.ring.write(data);
    if (written < data.length) {
      this.host.stats.dropped += Math.ceil((data.length - written) / this.frameBytes);
      this.host.warnOnce('queue-full', 'outbound queue full: audio dropped');
    }
    this.busy = true;
    this.pump(this.pacer.now());
  }

  mark(name: string): void {
    if (this.host.closed()) return;
    if (this.marks.length >= MAX_PENDING_MARKS) {
      // Bounded like every queue: a platform that never echoes cannot grow this without limit.
      const oldest = this.marks.shift()!;
      this.host.warnOnce('marks-full', 'too many pending marks: the oldest resolved as not played');
      this.host.onMark(oldest.name, false);
    }
    this.marks.push({ name, pos: this.writtenSamples + this.ring.length / this.outBps, sent: false });
    this.busy = true;
    this.pump(this.pacer.now());
  }

  clear(): void {
    if (this.host.closed()) return;
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
    for (const m of pending) this.host.onMark(m.name, false);
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

  /**
   * Called by the shared pacer (and right after play/mark): send what is due so as to stay `leadMs` ahead. Frames
   * go in bursts (see refillMs), corked into one socket write.
   */
  pump(now: number): void {
    if (this.host.closed() || this.paused) return;
    if (this.playEnd - now < this.refillMs && this.ring.length > 0) {
      this.transport.cork?.();
      try {
        this.fill(now);
      } finally {
        this.transport.uncork?.();
      }
      if (this.host.closed()) return;
    }
    this.sendDueMarks();
    if (!this.adapter.marks) this.resolveMarksByClock(now);
    this.checkIdle(now);
  }

  private fill(now: number): void {
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
      if (this.host.closed()) return;
    }
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
    this.host.stats.framesOut++;
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
      this.host.onMark(m.name, true);
    }
  }

  private checkIdle(now: number): void {
    if (!this.busy || this.ring.length > 0 || this.marks.length > 0 || this.playEnd > now) return;
    this.busy = false;
    this.host.onIdle();
  }

  /**
   * A peer that does not read (STYLE.md 6): past maxBufferedBytes in ws.bufferedAmount, outbound audio and events
   * are dropped and counted rather than grown in memory; past 4x (control messages still queue), the call closes.
   */
  backpressured(): boolean {
    const buffered = this.transport.bufferedAmount;
    if (buffered <= this.maxBufferedBytes) return false;
    this.host.stats.dropped++;
    this.host.warnOnce('backpressure', 'peer not reading: outbound dropped');
    if (buffered > this.maxBufferedBytes * 4) this.host.closeWith(CloseCode.PROTOCOL, 'peer not reading');
    return true;
  }

  /** The call ended: drop what was queued. */
  stop(): void {
    this.ring.clear();
  }
}
