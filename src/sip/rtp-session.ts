import dgram from 'node:dgram';
import { normalizeIp } from '../api/ip-allowlist.js';
import type { Paced, Pacer } from '../telephony/pacer.js';
import { JitterBuffer } from './jitter.js';
import {
  DtmfReceiver,
  dtmfEventCode,
  newRtpView,
  RTP_HEADER,
  type RtpView,
  readDtmfPayload,
  readRtp,
  writeDtmfPayload,
  writeRtpHeader,
} from './rtp.js';

/**
 * One call's RTP stream (RFC 3550) on a port pair from the configured range: RTP on an even port, RTCP on the next.
 *
 * Inbound: packets from the negotiated address are played out through the jitter buffer on the shared pacer's
 * clock; RFC 4733 events become digits. Symmetric RTP (RFC 4961) for callers behind NAT: until the first packet
 * from the SDP address arrives, the stream latches once onto a source with the signalling peer's IP (a NAT that
 * rewrote the port); packets from any other address are ignored and counted.
 *
 * Outbound: the leg sends 20 ms G.711 payloads (paced by the shared clock, like every leg); each is written into
 * one of a few packet buffers reused in turn (a datagram is handed to the kernel before its buffer comes round
 * again). RFC 4733 digits replace audio while they play: an event packet every 20 ms, three end packets.
 * RTCP: a sender report every 5 s; inbound RTCP is read for nothing more than a count (never parsed into the call).
 */
export interface RtpPortRange {
  min: number;
  max: number;
}

export interface RtpSessionOptions {
  host: string;
  range: RtpPortRange;
  pacer: Pacer;
  /** The SIP peer's IP: the one other source a NAT-latched stream may come from. */
  signallingIp: string;
  silenceByte: number;
  onAudio(payload: Uint8Array): void;
  onDtmf(digit: string, durationMs: number): void;
}

export interface RtpStats {
  packetsIn: number;
  packetsOut: number;
  /** Packets from an address that is neither the negotiated one nor a NAT latch. */
  foreign: number;
  rtcpIn: number;
  malformed: number;
}

/** Packet buffers in flight at most (a peer's socket that stops draining beyond this loses packets). */
const MAX_IN_FLIGHT = 256;
const DTMF_EVENT_MS = 100;
const DTMF_GAP_MS = 60;
const RTCP_INTERVAL_MS = 5000;
let nextPortHint = 0;

interface Packet {
  buf: Buffer;
  release(): void;
}

export class RtpSession implements Paced {
  readonly stats: RtpStats = { packetsIn: 0, packetsOut: 0, foreign: 0, rtcpIn: 0, malformed: 0 };
  readonly jitter: JitterBuffer;
  readonly ssrc = (Math.random() * 0x100000000) >>> 0;
  port = 0;
  private rtp!: dgram.Socket;
  private rtcp!: dgram.Socket;
  private remoteIp = '';
  private remotePort = 0;
  private latched = false;
  private audioPt = 0;
  private dtmfPt: number | undefined;
  private readonly view: RtpView = newRtpView();
  /** Packet buffers not in flight: dgram.send reads a buffer after this tick, so each one comes back only when
   * its send completed (a callback made once per buffer). Steady state allocates nothing. */
  private readonly free: Packet[] = [];
  private inFlight = 0;
  private seq = (Math.random() * 0x10000) & 0xffff;
  private ts = (Math.random() * 0x100000000) >>> 0;
  private marker = true;
  private octetsOut = 0;
  private lastRtcp = 0;
  private readonly dtmfIn: DtmfReceiver;
  private digits = '';
  private dtmfStartMs = -1;
  private dtmfNextMs = 0;
  private dtmfTs = 0;
  private closed = false;
  /** On hold (the far end's a=sendonly): time and RTP timestamps go on, no packet is sent. */
  private muted = false;
  /** Pacer ms up to which the audio sent so far plays at the far end. */
  private sentUntil = 0;
  private readonly silence: Uint8Array;

  constructor(private readonly opts: RtpSessionOptions) {
    this.jitter = new JitterBuffer(opts.onAudio, opts.silenceByte);
    this.dtmfIn = new DtmfReceiver(opts.onDtmf);
    this.silence = new Uint8Array(160).fill(opts.silenceByte);
    for (let i = 0; i < 8; i++) this.free.push(this.newPacket());
  }

  /** Binds the first free even port pair of the range. Rejects when the range is exhausted. */
  async open(): Promise<number> {
    const { min, max } = this.opts.range;
    const first = min + (min & 1);
    const pairs = Math.max(1, Math.floor((max - first) / 2) + 1);
    for (let i = 0; i < pairs; i++) {
      const port = first + ((nextPortHint + i) % pairs) * 2;
      const rtp = await bindUdp(this.opts.host, port);
      if (!rtp) continue;
      const rtcp = await bindUdp(this.opts.host, port + 1);
      if (!rtcp) {
        rtp.close();
        continue;
      }
      nextPortHint = (nextPortHint + i + 1) % pairs;
      this.rtp = rtp;
      this.rtcp = rtcp;
      this.port = port;
      rtp.on('message', this.onRtp);
      rtcp.on('message', this.onRtcp);
      rtp.on('error', () => undefined);
      rtcp.on('error', () => undefined);
      this.lastRtcp = this.opts.pacer.now();
      this.opts.pacer.add(this);
      return port;
    }
    throw new Error(`no free RTP port pair in ${min}-${max}`);
  }

  /** The negotiated far end (SDP answer / re-INVITE). A new address drops any NAT latch. */
  setRemote(ip: string, port: number, audioPt: number, dtmfPt: number | undefined): void {
    if (ip !== this.remoteIp || port !== this.remotePort) this.latched = false;
    this.remoteIp = normalizeIp(ip);
    this.remotePort = port;
    this.audioPt = audioPt;
    this.dtmfPt = dtmfPt;
  }

  /** The negotiated codec's silence byte (concealment and the silence we send). */
  setSilence(byte: number): void {
    this.jitter.setSilence(byte);
    this.silence.fill(byte);
  }

  /** Hold (true) / resume (false): while muted nothing is sent (RTCP aside); queued digits wait. */
  setMuted(muted: boolean): void {
    this.muted = muted;
  }

  private readonly onRtp = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (this.closed) return;
    const ip = normalizeIp(rinfo.address);
    if (ip !== this.remoteIp || rinfo.port !== this.remotePort) {
      // Symmetric RTP: one latch onto the signalling peer's IP (its NAT rewrote the port), and only while nothing
      // came from the negotiated address; anything else is ignored.
      if (this.latched || ip !== normalizeIp(this.opts.signallingIp)) {
        this.stats.foreign++;
        return;
      }
      this.remoteIp = ip;
      this.remotePort = rinfo.port;
    }
    this.latched = true;
    const v = this.view;
    if (!readRtp(msg, v)) {
      if (msg.length >= 8 && msg[0]! >> 6 === 2)
        this.stats.rtcpIn++; // rtcp-mux
      else this.stats.malformed++;
      return;
    }
    this.stats.packetsIn++;
    if (v.payloadType === this.audioPt) {
      this.jitter.push(v.seq, msg.subarray(v.payloadOffset, v.payloadOffset + v.payloadLength), this.opts.pacer.now());
    } else if (v.payloadType === this.dtmfPt) {
      const p = readDtmfPayload(msg, v.payloadOffset, v.payloadLength);
      if (p) this.dtmfIn.push(v.timestamp, p);
    }
  };

  private readonly onRtcp = (msg: Buffer): void => {
    if (msg.length >= 8 && msg[0]! >> 6 === 2) this.stats.rtcpIn++;
    else this.stats.malformed++;
  };

  /** One outbound audio payload (G.711, any length up to 60 ms). Dropped while an RFC 4733 digit plays. */
  sendAudio(payload: Uint8Array): void {
    if (this.closed || this.remotePort === 0) return;
    const samples = payload.length;
    if (this.dtmfStartMs >= 0) return; // the event's packets stand for this time
    const now = this.opts.pacer.now();
    this.sentUntil = Math.max(this.sentUntil, now) + samples / 8;
    const p = this.muted ? undefined : this.nextBuffer();
    if (p) {
      writeRtpHeader(p.buf, this.audioPt, this.marker, this.seq, this.ts, this.ssrc);
      this.marker = false;
      p.buf.set(payload, RTP_HEADER);
      this.send(p, RTP_HEADER + payload.length);
    }
    this.ts = (this.ts + samples) >>> 0;
    this.octetsOut += payload.length;
  }

  /** Queue digits to send as RFC 4733 events (in-band tones would do for peers without telephone-event). */
  sendDtmf(digits: string): boolean {
    if (this.dtmfPt === undefined) return false;
    for (const d of digits) if (dtmfEventCode(d) >= 0) this.digits += d;
    return true;
  }

  pump(now: number): void {
    if (this.closed) return;
    this.jitter.pump(now);
    if (!this.muted && (this.digits.length > 0 || this.dtmfStartMs >= 0)) this.pumpDtmf(now);
    else if (this.remotePort !== 0 && this.sentUntil <= now) this.fillSilence(now);
    if (now - this.lastRtcp >= RTCP_INTERVAL_MS) {
      this.lastRtcp = now;
      this.sendSenderReport();
    }
  }

  /**
   * While the agent is silent the stream goes on with silence frames on the same clock: trunks and PBXs take a
   * stream that stops for an RTP timeout (and some NATs close the pinhole).
   */
  private fillSilence(now: number): void {
    if (now - this.sentUntil > 100) this.sentUntil = now; // first frame, or after a DTMF: start from now
    while (this.sentUntil <= now) this.sendAudio(this.silence);
  }

  private pumpDtmf(now: number): void {
    if (this.remotePort === 0 || this.dtmfPt === undefined) return;
    if (this.dtmfStartMs < 0) {
      if (now < this.dtmfNextMs) return;
      this.dtmfStartMs = now;
      this.dtmfTs = this.ts;
      this.marker = true;
    }
    const event = dtmfEventCode(this.digits[0]!);
    const elapsed = Math.min(now - this.dtmfStartMs, DTMF_EVENT_MS);
    const end = elapsed >= DTMF_EVENT_MS;
    const duration = Math.max(160, Math.round(elapsed * 8));
    // RFC 4733 2.5.1.4: the end packet is sent three times.
    for (let i = 0; i < (end ? 3 : 1); i++) {
      const p = this.nextBuffer();
      if (!p) break;
      writeRtpHeader(p.buf, this.dtmfPt, this.marker, this.seq, this.dtmfTs, this.ssrc);
      this.marker = false;
      writeDtmfPayload(p.buf, RTP_HEADER, event, end, duration);
      this.send(p, RTP_HEADER + 4);
    }
    if (end) {
      this.digits = this.digits.slice(1);
      this.dtmfStartMs = -1;
      this.dtmfNextMs = now + DTMF_GAP_MS;
      this.ts = (this.dtmfTs + duration + DTMF_GAP_MS * 8) >>> 0;
      this.sentUntil = now + DTMF_GAP_MS;
      this.marker = true;
    }
  }

  private newPacket(): Packet {
    const p: Packet = {
      buf: Buffer.alloc(RTP_HEADER + 480),
      release: () => {
        this.inFlight--;
        this.free.push(p);
      },
    };
    return p;
  }

  private nextBuffer(): Packet | undefined {
    if (this.inFlight >= MAX_IN_FLIGHT) return undefined;
    return this.free.pop() ?? this.newPacket();
  }

  private send(p: Packet, len: number): void {
    this.inFlight++;
    this.rtp.send(p.buf, 0, len, this.remotePort, this.remoteIp, p.release);
    this.seq = (this.seq + 1) & 0xffff;
    this.stats.packetsOut++;
  }

  /** RFC 3550 6.4.1 sender report without report blocks (NTP time, RTP time, counts). */
  private sendSenderReport(): void {
    if (this.remotePort === 0) return;
    const b = Buffer.alloc(28);
    b[0] = 0x80;
    b[1] = 200;
    b.writeUInt16BE(6, 2);
    b.writeUInt32BE(this.ssrc, 4);
    const ms = Date.now() + 2_208_988_800_000; // NTP epoch 1900
    b.writeUInt32BE(Math.floor(ms / 1000) >>> 0, 8);
    b.writeUInt32BE(Math.floor(((ms % 1000) / 1000) * 0x100000000) >>> 0, 12);
    b.writeUInt32BE(this.ts, 16);
    b.writeUInt32BE(this.stats.packetsOut >>> 0, 20);
    b.writeUInt32BE(this.octetsOut >>> 0, 24);
    this.rtcp.send(b, this.remotePort + 1, this.remoteIp);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.opts.pacer.remove(this);
    this.rtp?.close();
    this.rtcp?.close();
  }
}

function bindUdp(host: string, port: number): Promise<dgram.Socket | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.once('error', () => {
      s.close();
      resolve(undefined);
    });
    s.bind(port, host, () => {
      s.removeAllListeners('error');
      resolve(s);
    });
  });
}
