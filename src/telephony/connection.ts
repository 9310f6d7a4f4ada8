import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { Logger } from '../log.js';
import type { InboundSink, ProtocolAdapter, StartMeta } from './adapter.js';
import { CloseCode, closeReason } from './close-codes.js';
import { type EchoTap, startEcho } from './echo.js';
import type { GatewayDeps, GatewayLimits, ResolvedCall } from './gateway-types.js';
import { createConverter, createInbandDtmf } from './inband-dtmf.js';
import { WireLeg } from './media-leg.js';
import type { Pacer } from './pacer.js';

/**
 * One media WebSocket: the per-connection state machine, limits and bad-input policy.
 *
 *   AWAITING_START ──start──▶ RESOLVING ──ok──▶ LIVE ──stop / close / hangup──▶ CLOSED
 *         │                      │ (audio buffered, bounded)       ▲
 *         └──────── bad key, limits, too much bad input ──────────┴──▶ CLOSED (4xxx + reason)
 *
 * Every message passes the size (4009), rate (4029) and idle (4031, swept by the gateway) limits before the
 * adapter parses it. Before the start message a socket is unauthenticated: it must start within startTimeoutMs
 * whatever it sends (4031), and may send at most maxPrestartBytes (4009). Bad input is counted and logged once per connection; past `maxMalformed` the call is closed
 * with 4008. An exception anywhere in handling closes this call with 4500, never the process.
 */
enum State {
  AwaitingStart,
  Resolving,
  Live,
  Closed,
}

export interface ConnectionShared {
  deps: GatewayDeps;
  limits: GatewayLimits;
  pacer: Pacer;
  logger: Logger;
  onLive(conn: MediaConnection): void;
  onClosed(conn: MediaConnection, code: number): void;
  echoTap?: EchoTap;
}

export class MediaConnection implements InboundSink {
  readonly protocol: string;
  /** When the socket was upgraded (pacer clock, ms): the start deadline counts from here. */
  readonly openedAt: number;
  lastMessageAt: number;
  /** The client IP while this socket counts against the gateway's per-IP pending cap; cleared once live. */
  pendingIp: string | undefined;
  badCount = 0;
  private state = State.AwaitingStart;
  private leg: WireLeg | undefined;
  private call: ResolvedCall | undefined;
  private released = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes received before the call went live (start message included). */
  private prestartBytes = 0;
  private stopReason: string | undefined;
  private rateWindow = 0;
  private rateCount = 0;
  private loggedMalformed = false;
  private callId: string | undefined;
  private inPcm16 = false;
  /** Inbound messages before the leg exists (connected / start / early audio), for the opt-in wire recording. */
  private preWire: { data: string | Uint8Array; atMs: number }[] = [];
  /** When resolution started (pacer clock, ms); -1 when not resolving. */
  resolvingSince = -1;

  constructor(
    private readonly ws: WebSocket,
    private readonly req: IncomingMessage,
    private readonly adapter: ProtocolAdapter,
    private readonly pathKey: string | undefined,
    private readonly shared: ConnectionShared,
    private readonly clientIp: string,
  ) {
    this.protocol = adapter.name;
    this.openedAt = shared.pacer.now();
    this.lastMessageAt = this.openedAt;
    ws.on('message', this.onMessage);
    ws.on('close', this.onSocketClose);
    ws.on('error', this.onSocketError);
  }

  get live(): boolean {
    return this.state === State.Live;
  }

  get awaitingStart(): boolean {
    return this.state === State.AwaitingStart;
  }

  get resolving(): boolean {
    return this.state === State.Resolving;
  }

  get legStats() {
    return this.leg?.stats;
  }

  // ------------------------------------------------------------------------------------------------ socket

  private readonly onMessage = (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void => {
    if (this.state === State.Closed) return;
    const now = this.shared.pacer.now();
    this.lastMessageAt = now;
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const { limits } = this.shared;
    if (buf.length > limits.maxMessageBytes) {
      this.close(CloseCode.TOO_LARGE, `message of ${buf.length} bytes exceeds ${limits.maxMessageBytes}`);
      return;
    }
    const win = Math.floor(now / 1000);
    if (win !== this.rateWindow) {
      this.rateWindow = win;
      this.rateCount = 0;
    }
    if (++this.rateCount > limits.maxMessagesPerSecond) {
      this.close(CloseCode.RATE, `more than ${limits.maxMessagesPerSecond} messages per second`);
      return;
    }
    if (this.leg) this.leg.tapWire(buf, isBinary, now);
    else {
      this.prestartBytes += buf.length;
      if (this.prestartBytes > limits.maxPrestartBytes) {
        if (this.state === State.AwaitingStart) {
          this.close(CloseCode.TOO_LARGE, `more than ${limits.maxPrestartBytes} bytes before the start message`);
          return;
        }
        // Resolving: audio past the cap is dropped by audio(), and kept out of the wire recording too.
      } else if (this.preWire.length < 64) {
        this.preWire.push({ data: isBinary ? buf : buf.toString('utf8'), atMs: now });
      }
    }
    try {
      if (isBinary) this.adapter.onBinary(buf, this);
      else this.adapter.onText(buf.toString('utf8'), this);
    } catch (err) {
      this.internalError(err);
    }
  };

  private readonly onSocketClose = (code: number, reason: Buffer): void => {
    if (this.state === State.Closed) return;
    this.state = State.Closed;
    this.leg?.end(`socket closed (${code}${reason.length ? ` ${reason.toString('utf8')}` : ''})`);
    this.release();
    this.shared.onClosed(this, code);
  };

  private readonly onSocketError = (err: Error): void => {
    this.shared.logger.warn({ protocol: this.protocol, callId: this.callId, err: err.message }, 'media socket error');
    // ws emits 'error' for a frame it refuses (1009 past maxPayload, 1002 bad framing) and has already started the
    // close handshake with that code; terminating here would cut the socket before the close frame is flushed and
    // the peer would see 1006. ws destroys the socket itself if the peer never answers the close (30 s).
  };

  /** Close with a 4xxx code; idempotent. */
  close(code: number, reason: string): void {
    if (this.state === State.Closed) return;
    this.state = State.Closed;
    if (code !== CloseCode.NORMAL && code !== 1000) {
      this.shared.logger.info({ protocol: this.protocol, callId: this.callId, code, reason }, 'media stream closed');
    }
    try {
      this.ws.close(code, closeReason(reason));
    } catch {
      this.ws.terminate();
    }
    this.leg?.end(reason);
    this.release();
    this.shared.onClosed(this, code);
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    try {
      this.call?.release?.();
    } catch (err) {
      this.shared.logger.error({ err, callId: this.callId }, 'call release failed');
    }
  }

  private internalError(err: unknown): void {
    this.shared.logger.error({ err, protocol: this.protocol, callId: this.callId }, 'media stream internal error');
    this.close(CloseCode.INTERNAL, 'internal error');
  }

  // ------------------------------------------------------------------------------------------------ sink

  start(meta: StartMeta): void {
    if (this.state !== State.AwaitingStart) {
      this.malformed('second start');
      return;
    }
    this.state = State.Resolving;
    this.resolvingSince = this.shared.pacer.now();
    this.callId = meta.callId;
    this.inPcm16 = meta.inboundFormat.encoding === 'pcm16';
    const { deps } = this.shared;
    const url = this.req.url ?? '';
    deps
      .resolve({
        protocol: this.protocol,
        pathKey: this.pathKey,
        paramKey: meta.paramKey,
        from: meta.from,
        to: meta.to,
        customParameters: meta.customParameters,
        remoteAddress: this.clientIp,
        headers: this.req.headers,
        url,
      })
      .then(
        (res) => {
          if (this.state !== State.Resolving) {
            if (res.ok) res.call.release?.();
            return;
          }
          if (!res.ok) {
            this.close(res.code, res.reason);
            return;
          }
          this.call = res.call;
          this.goLive(meta, res.call);
        },
        (err: unknown) => this.internalError(err),
      );
  }

  private goLive(meta: StartMeta, call: ResolvedCall): void {
    this.resolvingSince = -1;
    const { limits, pacer, logger } = this.shared;
    const ws = this.ws;
    // The upgraded TCP socket under ws: corked for the frames of one pacer burst (one writev instead of one each).
    const sock = this.req.socket;
    const control = this.shared.deps.control;
    this.leg = new WireLeg({
      adapter: this.adapter,
      meta,
      transport: {
        send: (d) => {
          if (ws.readyState === 1) ws.send(d);
        },
        get bufferedAmount() {
          return ws.bufferedAmount;
        },
        close: (code, reason) => this.close(code, reason),
        cork: () => sock.cork(),
        uncork: () => sock.uncork(),
      },
      pacer,
      logger,
      remoteAddress: this.clientIp,
      leadMs: limits.leadMs,
      maxBufferedBytes: limits.maxBufferedBytes,
      converter: createConverter,
      inbandDtmf: createInbandDtmf,
      ...(control ? { carrier: (info) => control(call, info) } : {}),
    });
    this.leg.stats.malformed = this.badCount;
    // The session decides (settings.recordWire) whether to tap; until then the leg keeps a bounded backlog.
    this.leg.adoptPreWire(this.preWire);
    this.preWire = [];
    this.state = State.Live;
    this.shared.onLive(this);
    const ready = this.adapter.accepted();
    if (ready !== undefined) ws.send(ready);
    try {
      if (call.assistant.config.mode === 'echo') startEcho(this.leg, this.shared.echoTap);
      else this.shared.deps.onCall(this.leg, call);
      for (const b of this.pending) this.leg.receiveAudio(b);
    } catch (err) {
      this.internalError(err);
      return;
    }
    this.pending = [];
    this.pendingBytes = 0;
    if (this.stopReason !== undefined) this.stop(this.stopReason);
  }

  audio(wire: Uint8Array): void {
    if ((wire.length & 1) === 1 && this.inPcm16) {
      this.malformed('odd-length PCM16 audio');
      return;
    }
    if (this.state === State.Live) {
      this.leg!.receiveAudio(wire);
    } else if (this.state === State.Resolving) {
      // bounded: the oldest audio is kept
      if (this.pendingBytes + wire.length > this.shared.limits.maxPrestartBytes) return;
      this.pending.push(Buffer.from(wire));
      this.pendingBytes += wire.length;
    } else {
      this.malformed('audio before start');
    }
  }

  seq(n: number): void {
    this.leg?.receiveSeq(n);
  }

  dtmf(digit: string, durationMs?: number): void {
    this.leg?.receiveDtmf(digit, durationMs);
  }

  mark(name: string): void {
    this.leg?.receiveMark(name);
  }

  cleared(): void {
    this.leg?.receiveCleared();
  }

  flow(paused: boolean): void {
    this.leg?.setPaused(paused);
  }

  stop(reason: string): void {
    if (this.state === State.Resolving) {
      this.stopReason = reason;
      return;
    }
    // The platform ended the stream: a normal close from our side too.
    this.leg?.end(reason);
    this.close(1000, reason);
  }

  malformed(reason: string): void {
    this.badCount++;
    if (this.leg) this.leg.stats.malformed = this.badCount;
    if (!this.loggedMalformed) {
      this.loggedMalformed = true;
      this.shared.logger.warn(
        { protocol: this.protocol, callId: this.callId, reason },
        'bad media message (logged once per call)',
      );
    }
    if (this.badCount > this.shared.limits.maxMalformed) {
      this.close(CloseCode.PROTOCOL, `protocol violation: ${reason}`);
    }
  }
}
