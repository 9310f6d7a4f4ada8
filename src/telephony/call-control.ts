/**
 * The one call-control interface: hang up, transfer (a redirect is a cold transfer), send DTMF, for one call,
 * whatever carries it. Every carrier implements it, bound to its call:
 *
 *   the call's leg (MediaLeg, src/telephony/leg.ts)          what the session (src/call/ending.ts) and control from
 *     │                                                      any engine's API (src/engine.ts onControl) talk to
 *     ├── the wire protocol's message (adapter encode*)       Asterisk HANGUP, native / FreeSWITCH transfer, ...
 *     ├── a carrier beside the socket, through this interface:
 *     │     the platform's REST call control                 src/channels/call-control.ts (Twilio, Telnyx, ...)
 *     │     the SIP dialog                                   src/sip/leg.ts (BYE, REFER, RFC 4733)
 *     └── closing the socket (a hangup that always works)
 *
 * Results: 'done'; 'already-ended' (the call was over: success for a hangup); 'unsupported' (nothing was sent:
 * this carrier cannot do it for this call, so the leg tries the next one). A carrier that tried and failed rejects
 * (status and platform code in the message: no credentials, no response text). A leg's hangup never rejects: its
 * last resort, closing the socket, always works.
 */
export type TransferMode = 'cold' | 'warm';

export type ControlResult = 'done' | 'already-ended' | 'unsupported';

export interface CallControl {
  /** End the call. */
  hangup(reason: string): Promise<ControlResult>;
  /** Hand the call to `target` (E.164 number or SIP URI); `summary` is whispered to the human on a warm transfer. */
  transfer(target: string, mode: TransferMode, summary?: string): Promise<ControlResult>;
  /** Send DTMF digits to the far end, after the audio already queued. */
  sendDtmf(digits: string): ControlResult;
}
