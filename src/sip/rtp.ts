/**
 * RTP (RFC 3550 section 5.1) packet views and writers, and RFC 4733 telephone-events. Packets are read in place
 * (the payload is a view into the datagram) and written into caller-provided buffers: nothing allocates per frame.
 *
 *   0                   1                   2                   3
 *   |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *   |                           timestamp                           |
 *   |                             SSRC                              |
 */
export const RTP_HEADER = 12;

export interface RtpView {
  payloadType: number;
  marker: boolean;
  seq: number;
  timestamp: number;
  ssrc: number;
  /** Offset and length of the payload in the datagram. */
  payloadOffset: number;
  payloadLength: number;
}

/** A view to fill with readRtp (one per stream: reading allocates nothing). */
export function newRtpView(): RtpView {
  return { payloadType: 0, marker: false, seq: 0, timestamp: 0, ssrc: 0, payloadOffset: 0, payloadLength: 0 };
}

/** Fills `out` from `buf`; false when it is not an RTP version 2 packet (or is RTCP, RFC 5761 section 4). */
export function readRtp(buf: Uint8Array, out: RtpView): boolean {
  if (buf.length < RTP_HEADER || buf[0]! >> 6 !== 2) return false;
  const pt = buf[1]! & 0x7f;
  if (pt >= 64 && pt <= 95) return false; // RTCP packet types 192-223 with the marker bit: rtcp-mux
  const cc = buf[0]! & 0x0f;
  let off = RTP_HEADER + cc * 4;
  if (buf[0]! & 0x10) {
    if (buf.length < off + 4) return false;
    off += 4 + (((buf[off + 2]! << 8) | buf[off + 3]!) << 2);
  }
  let end = buf.length;
  if (buf[0]! & 0x20) end -= buf[end - 1]!;
  if (off > end) return false;
  out.payloadType = pt;
  out.marker = (buf[1]! & 0x80) !== 0;
  out.seq = (buf[2]! << 8) | buf[3]!;
  out.timestamp = ((buf[4]! << 24) | (buf[5]! << 16) | (buf[6]! << 8) | buf[7]!) >>> 0;
  out.ssrc = ((buf[8]! << 24) | (buf[9]! << 16) | (buf[10]! << 8) | buf[11]!) >>> 0;
  out.payloadOffset = off;
  out.payloadLength = end - off;
  return true;
}

/** Writes a 12-byte header at the start of `buf`. */
export function writeRtpHeader(
  buf: Uint8Array,
  pt: number,
  marker: boolean,
  seq: number,
  timestamp: number,
  ssrc: number,
): void {
  buf[0] = 0x80;
  buf[1] = (marker ? 0x80 : 0) | (pt & 0x7f);
  buf[2] = (seq >> 8) & 0xff;
  buf[3] = seq & 0xff;
  buf[4] = (timestamp >>> 24) & 0xff;
  buf[5] = (timestamp >>> 16) & 0xff;
  buf[6] = (timestamp >>> 8) & 0xff;
  buf[7] = timestamp & 0xff;
  buf[8] = (ssrc >>> 24) & 0xff;
  buf[9] = (ssrc >>> 16) & 0xff;
  buf[10] = (ssrc >>> 8) & 0xff;
  buf[11] = ssrc & 0xff;
}

/** RFC 4733 section 3.2 event codes 0-15: 0-9, *, #, A-D. */
const EVENTS = '0123456789*#ABCD';

export function dtmfEventCode(digit: string): number {
  return EVENTS.indexOf(digit.toUpperCase());
}

export function dtmfDigit(event: number): string | undefined {
  return event >= 0 && event < 16 ? EVENTS[event] : undefined;
}

export interface DtmfPayload {
  event: number;
  end: boolean;
  volume: number;
  /** Samples at 8 kHz. */
  duration: number;
}

/** RFC 4733 section 2.3 payload: event, E|R|volume, duration. */
export function readDtmfPayload(buf: Uint8Array, off: number, len: number): DtmfPayload | undefined {
  if (len < 4) return undefined;
  return {
    event: buf[off]!,
    end: (buf[off + 1]! & 0x80) !== 0,
    volume: buf[off + 1]! & 0x3f,
    duration: (buf[off + 2]! << 8) | buf[off + 3]!,
  };
}

export function writeDtmfPayload(buf: Uint8Array, off: number, event: number, end: boolean, duration: number): void {
  buf[off] = event;
  buf[off + 1] = (end ? 0x80 : 0) | 10; // volume -10 dBm0
  buf[off + 2] = (duration >> 8) & 0xff;
  buf[off + 3] = duration & 0xff;
}

/**
 * Inbound RFC 4733: one digit per event, reported once at its first packet with the end bit (or, when the end
 * packets are lost, when a new event timestamp starts). Redundant end packets (section 2.5.1.4) share the
 * timestamp and are ignored.
 */
export class DtmfReceiver {
  private lastTs = -1;
  private reported = false;
  private pending: DtmfPayload | undefined;

  constructor(private readonly onDigit: (digit: string, durationMs: number) => void) {}

  push(timestamp: number, p: DtmfPayload): void {
    if (timestamp !== this.lastTs) {
      if (this.pending && !this.reported) this.emit(this.pending);
      this.lastTs = timestamp;
      this.reported = false;
    }
    this.pending = p;
    if (p.end && !this.reported) {
      this.reported = true;
      this.emit(p);
    }
  }

  private emit(p: DtmfPayload): void {
    const d = dtmfDigit(p.event);
    if (d !== undefined) this.onDigit(d, p.duration / 8);
  }
}
