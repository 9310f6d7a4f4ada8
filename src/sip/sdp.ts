import { isIP } from 'node:net';
import sdpTransform from 'sdp-transform';
import { ALAW_8K, type AudioFormat, MULAW_8K, PCM_16K } from '../audio/format.js';

/**
 * SDP offer/answer (RFC 3264) for one audio stream: G.722 (PT 9, wideband), PCMU (PT 0), PCMA (PT 8) and
 * telephone-event/8000 (RFC 4733). Parsing and writing go through `sdp-transform`; what is ours is the choice: the
 * first audio codec of the offer that we support (the offerer's preference), telephone-event at the payload type the
 * offer gave it. G.722 is `G722/8000` in SDP (RFC 3551's historical clock rate) and samples at 16 kHz: the leg
 * decodes it, so the session sees PCM16 at 16 kHz.
 */
export type SipCodec = 'G722' | 'PCMU' | 'PCMA';

export interface SdpOffer {
  /** Where to send RTP (c= / m= port). */
  address: string;
  port: number;
  /** The chosen audio payload type, and the format the call's leg presents to the session. */
  payloadType: number;
  format: AudioFormat;
  codecName: SipCodec;
  /** telephone-event payload type in the offer, when offered. */
  dtmfPayloadType?: number;
  /** The offer's media direction (a=sendrecv when none is given). */
  direction: SdpDirection;
  /** a=sendonly / a=inactive / c=0.0.0.0 (RFC 3264 8.4 hold): the far end does not want our audio. */
  hold: boolean;
  /** a=rtcp-mux offered: RTCP arrives on the RTP port. */
  rtcpMux: boolean;
}

export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export type NegotiateResult = { ok: true; offer: SdpOffer } | { ok: false; reason: string };

const STATIC: Record<number, SipCodec> = { 0: 'PCMU', 8: 'PCMA', 9: 'G722' };
const SUPPORTED: Record<string, SipCodec> = { 'PCMU/8000': 'PCMU', 'PCMA/8000': 'PCMA', 'G722/8000': 'G722' };
const FORMAT: Record<SipCodec, AudioFormat> = { PCMU: MULAW_8K, PCMA: ALAW_8K, G722: PCM_16K };
/** Static payload types (RFC 3551), the ones we offer. */
export const PAYLOAD_TYPE: Record<SipCodec, number> = { PCMU: 0, PCMA: 8, G722: 9 };

/** Reads an SDP offer (or answer) and picks the codec. `no common codec` answers 488 Not Acceptable Here. */
export function negotiate(body: string): NegotiateResult {
  let s: sdpTransform.SessionDescription;
  try {
    s = sdpTransform.parse(body);
  } catch {
    return { ok: false, reason: 'unparsable SDP' };
  }
  const audio = s.media?.find((m) => m.type === 'audio' && m.port > 0);
  if (!audio) return { ok: false, reason: 'no audio stream' };
  const address = audio.connection?.ip ?? s.connection?.ip;
  if (!address || isIP(address) === 0) return { ok: false, reason: 'no usable connection address' };
  if (audio.protocol !== 'RTP/AVP') return { ok: false, reason: `unsupported transport ${audio.protocol}` };
  const names = new Map<number, string>();
  for (const r of audio.rtp ?? []) names.set(r.payload, `${r.codec.toUpperCase()}/${r.rate ?? ''}`);
  let chosen: { pt: number; name: SipCodec } | undefined;
  let dtmf: number | undefined;
  for (const p of String(audio.payloads ?? '').split(/\s+/)) {
    const pt = Number(p);
    if (!Number.isInteger(pt)) continue;
    const name = names.get(pt) ?? (STATIC[pt] ? `${STATIC[pt]}/8000` : '');
    const codec = SUPPORTED[name];
    if (!chosen && codec) chosen = { pt, name: codec };
    if (dtmf === undefined && name === 'TELEPHONE-EVENT/8000') dtmf = pt;
  }
  if (!chosen) return { ok: false, reason: 'no common codec (G722, PCMU or PCMA)' };
  const dir: SdpDirection = audio.direction ?? s.direction ?? 'sendrecv';
  return {
    ok: true,
    offer: {
      address,
      port: audio.port,
      payloadType: chosen.pt,
      format: FORMAT[chosen.name],
      codecName: chosen.name,
      dtmfPayloadType: dtmf,
      direction: dir,
      hold: dir === 'sendonly' || dir === 'inactive' || address === '0.0.0.0',
      rtcpMux: audio.rtcpMux !== undefined,
    },
  };
}

export interface LocalMedia {
  address: string;
  port: number;
  sessionId: number;
  version: number;
}

/**
 * The direction we answer an offer with (RFC 3264 6.1): a hold (sendonly) gets recvonly, inactive stays inactive,
 * an old-style hold (c=0.0.0.0, RFC 2543) recvonly too, a recvonly offer sendonly.
 */
export function answerDirection(offer: Pick<SdpOffer, 'direction' | 'address'>): SdpDirection {
  if (offer.direction === 'inactive') return 'inactive';
  if (offer.direction === 'sendonly' || offer.address === '0.0.0.0') return 'recvonly';
  if (offer.direction === 'recvonly') return 'sendonly';
  return 'sendrecv';
}

/**
 * Our offer for an outbound call: the codecs in our order of preference (default G.722, PCMU, PCMA: wideband when
 * the trunk has it, since recognizers hear 16 kHz far better than 8 kHz) and telephone-event/8000 at 101.
 */
export function offerSdp(local: LocalMedia, codecs: readonly SipCodec[] = DEFAULT_CODECS): string {
  return buildSdp(
    local,
    codecs.map((c) => ({ payloadType: PAYLOAD_TYPE[c], codecName: c })),
    101,
  );
}

export const DEFAULT_CODECS: readonly SipCodec[] = ['G722', 'PCMU', 'PCMA'];

/** An SDP body for these codecs: 20 ms packets, telephone-event when given (the far end offered it). */
export function buildSdp(
  local: LocalMedia,
  codecs: { payloadType: number; codecName: string }[],
  dtmfPt?: number,
  direction: SdpDirection = 'sendrecv',
): string {
  const ipVer = isIP(local.address) === 6 ? 6 : 4;
  const pts = codecs.map((c) => c.payloadType);
  const payloads = (dtmfPt === undefined ? pts : [...pts, dtmfPt]).join(' ');
  const rtp: { payload: number; codec: string; rate?: number }[] = codecs.map((c) => ({
    payload: c.payloadType,
    codec: c.codecName,
    rate: 8000,
  }));
  const fmtp: { payload: number; config: string }[] = [];
  if (dtmfPt !== undefined) {
    rtp.push({ payload: dtmfPt, codec: 'telephone-event', rate: 8000 });
    fmtp.push({ payload: dtmfPt, config: '0-16' });
  }
  return sdpTransform.write({
    version: 0,
    origin: {
      username: '-',
      sessionId: local.sessionId,
      sessionVersion: local.version,
      netType: 'IN',
      ipVer,
      address: local.address,
    },
    name: 'voice-engine',
    connection: { version: ipVer, ip: local.address },
    timing: { start: 0, stop: 0 },
    media: [
      {
        type: 'audio',
        port: local.port,
        protocol: 'RTP/AVP',
        payloads,
        rtp,
        fmtp,
        ptime: 20,
        direction,
      },
    ],
  });
}
