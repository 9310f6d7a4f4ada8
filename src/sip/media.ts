import { isIP } from 'node:net';
import os from 'node:os';
import { ALAW_SILENCE, MULAW_SILENCE } from '../audio/g711.js';
import { G722_SILENCE } from '../audio/g722.js';
import type { Logger } from '../log.js';
import { startEcho } from '../telephony/echo.js';
import type { ResolvedCall } from '../telephony/gateway.js';
import type { MediaLeg } from '../telephony/leg.js';
import type { Pacer } from '../telephony/pacer.js';
import type { SipCall } from './dialog.js';
import { SipLeg } from './leg.js';
import { type RtpPortRange, RtpSession } from './rtp-session.js';
import type { SdpOffer, SipCodec } from './sdp.js';

/**
 * What every SIP call does with its media once the dialog exists, inbound (server.ts) or outbound (outbound.ts):
 * an RTP session on a port of the range, and the call handed to the session as one more MediaLeg.
 */
export interface MediaEnv {
  host: string;
  rtp: RtpPortRange;
  pacer: Pacer;
  logger: Logger;
  leadMs: number;
  onCall(leg: MediaLeg, call: ResolvedCall): void;
}

export function silenceOf(codec: SipCodec): number {
  return codec === 'PCMU' ? MULAW_SILENCE : codec === 'PCMA' ? ALAW_SILENCE : G722_SILENCE;
}

/** An RTP session whose audio and digits go to `target.leg` once there is one. Not yet bound: open() it. */
export function newRtpSession(
  env: MediaEnv,
  signallingIp: string,
  codec: SipCodec,
  target: { leg?: SipLeg },
): RtpSession {
  return new RtpSession({
    host: env.host,
    range: env.rtp,
    pacer: env.pacer,
    signallingIp,
    silenceByte: silenceOf(codec),
    onAudio: (payload) => target.leg?.receiveAudio(payload),
    onDtmf: (digit, ms) => target.leg?.receiveDtmf(digit, ms),
  });
}

/** The call as a MediaLeg, handed to the session (or to echo mode). */
export function startLeg(
  env: MediaEnv,
  call: SipCall,
  session: RtpSession,
  offer: SdpOffer,
  resolved: ResolvedCall,
  meta: { from?: string; to: string; remoteAddress: string },
): SipLeg {
  const leg = new SipLeg({
    meta: {
      callId: call.callId,
      from: meta.from,
      to: meta.to,
      customParameters: {},
      inboundFormat: offer.format,
      outboundFormat: offer.format,
    },
    dtmfEvents: offer.dtmfPayloadType !== undefined,
    codec: offer.codecName,
    rtp: session,
    pacer: env.pacer,
    logger: env.logger,
    remoteAddress: meta.remoteAddress,
    leadMs: env.leadMs,
    dialog: call,
  });
  call.leg = leg;
  if (resolved.assistant.config.mode === 'echo') startEcho(leg);
  else env.onCall(leg, resolved);
  return leg;
}

/**
 * The address we put in Contact and SDP: the host the peer addressed (it reached us there), else SIP_HOST when it
 * is a specific address, else this machine's first external IPv4 address.
 */
export function localAddressFor(requestHost: string | undefined, bindHost: string): string {
  if (requestHost && isIP(requestHost) !== 0) return requestHost;
  if (bindHost !== '0.0.0.0' && bindHost !== '::' && isIP(bindHost) !== 0) return bindHost;
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** A loopback peer reaches us on loopback: its address family's loopback, else undefined. */
export function loopbackOf(peerAddress: string): string | undefined {
  if (peerAddress.startsWith('127.')) return '127.0.0.1';
  return peerAddress === '::1' ? '::1' : undefined;
}
