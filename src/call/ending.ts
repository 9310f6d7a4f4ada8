import type { CallControl, TransferMode } from '../telephony/call-control.js';
import type { CallStartInfo } from '../telephony/leg.js';
import type { AgentVoice } from './agent-voice.js';
import type { Conversation } from './conversation.js';
import type { SessionDeps } from './deps.js';

/**
 * How a call ends, and the only owner of it: the hangup or transfer asked for during a reply (carried out once
 * what is being said has played), ending from our side with an optional goodbye, and the final release. It keeps
 * the outcome for the record: end reason, who ended it, where it was transferred. Hangup and transfer go through
 * the one call-control interface (src/telephony/call-control.ts, the call's leg), whatever carries them (wire
 * message, socket close, the platform's REST call control, SIP).
 *
 *   live ──request*()──▶ pending ──runPending()──▶ hanging up / transferring ──▶ finalized
 *   live ──end(reason, goodbye?)──▶ ending ──goodbye played──▶ hanging up ──▶ finalized
 *   any ──finalize(reason) (the caller or platform hung up)──▶ finalized
 */
export type PendingAction =
  | { type: 'hangup'; reason: string; by: string }
  | { type: 'transfer'; target: string; mode: TransferMode; summary?: string; by: string };

export interface CallOutcome {
  endReason: string;
  endedBy: string;
  transferredTo: string | undefined;
}

export interface EndingHost {
  /** The call's leg, as the one call-control interface. */
  readonly leg: CallControl & { readonly info: CallStartInfo; readonly closed: boolean };
  readonly deps: SessionDeps;
  elapsedMs(): number;
  /** The call goes to `transferring` (mode as the reason). */
  transferring(mode: TransferMode): void;
  /** Stop listening and cut the agent (keeping what the caller heard). */
  stopInteraction(): void;
  /** Who says the goodbye, and what a warm transfer's summary is made of. */
  readonly voice: AgentVoice;
  readonly conversation: Conversation;
  /** The agent is speaking (the goodbye), for `reason`. */
  speaking(reason: string): void;
  /** Something about ending changed (the agent now keeps the floor). */
  onChange(): void;
  /** Release everything and write the record with this outcome. */
  close(outcome: CallOutcome): Promise<void>;
  /** hangup.redirect: where the call goes instead when the agent hangs up (a number or SIP URI), if anywhere. */
  redirectTarget(): string | undefined;
}

export class CallEnding {
  private pending: PendingAction | undefined;
  private isEnding = false;
  private isFinalized = false;
  private endReason = '';
  private endedBy = '';
  private transferredTo: string | undefined;
  private readonly h: EndingHost;

  constructor(host: EndingHost) {
    this.h = host;
  }

  get ending(): boolean {
    return this.isEnding;
  }

  get finalized(): boolean {
    return this.isFinalized;
  }

  get hasPending(): boolean {
    return this.pending !== undefined;
  }

  /** end_call: hang up once the reply has played. */
  requestHangup(reason: string, by: string): void {
    this.pending = { type: 'hangup', reason, by };
    this.h.onChange();
  }

  /** transfer_call / a DTMF menu key: transfer once what is being said has played. */
  requestTransfer(target: string, mode: TransferMode, summary: string | undefined, by: string): void {
    this.pending = { type: 'transfer', target, mode, summary, by };
    this.h.onChange();
  }

  /** After an utterance played out: carry out the pending hangup / transfer; false when there is none. */
  async runPending(): Promise<boolean> {
    const a = this.pending;
    if (!a) return false;
    this.pending = undefined;
    if (!this.endedBy) this.endedBy = a.by;
    const redirect = a.type === 'hangup' ? this.h.redirectTarget() : undefined;
    if (a.type === 'hangup' && redirect) {
      // The agent is done, the call is not: hand it on through the platform's transfer (same capability rules).
      this.endReason = `redirected: ${a.reason}`;
      await this.transferNow(redirect, 'cold');
    } else if (a.type === 'hangup') await this.hangupNow(a.reason);
    else await this.transferNow(a.target, a.mode, a.summary);
    return true;
  }

  /**
   * End the call from our side: cut what is playing, say `goodbye` (if any; from the greeting cache when
   * `cacheKey` has its audio) and hang up once it has played. Idempotent; a second call while ending does nothing.
   */
  async end(reason: string, goodbye?: string, cacheKey?: string): Promise<void> {
    if (this.isEnding || this.isFinalized) return;
    this.startEnding();
    this.endReason = reason;
    if (!this.endedBy) this.endedBy = reason === 'silence_timeout' ? 'silence' : reason;
    this.h.stopInteraction();
    if (goodbye && !this.h.leg.closed) {
      const { u } = cacheKey ? this.h.voice.greet(goodbye, cacheKey, true) : this.h.voice.say('bye', goodbye, false);
      this.h.speaking(reason);
      // Cap the wait: a leg that never confirms playback must not keep the call open.
      await Promise.race([u.finished, new Promise((res) => setTimeout(res, 15_000).unref())]);
    }
    await this.hangupNow(reason);
  }

  /** Hang up now on a request from outside the call (`by`: 'api', from any engine's API), recorded as such. */
  async hangupBy(by: string, reason: string): Promise<void> {
    if (this.isEnding || this.isFinalized) return;
    if (!this.endedBy) this.endedBy = by;
    this.h.stopInteraction();
    await this.hangupNow(reason);
  }

  /** Release everything, write the record, run the post-call work. Idempotent. */
  async finalize(reason: string): Promise<void> {
    if (this.isFinalized) return;
    this.isFinalized = true;
    this.startEnding();
    if (!this.endReason) this.endReason = reason;
    // Nothing of ours ended it: the caller (or the platform) did.
    if (!this.endedBy) this.endedBy = 'caller';
    await this.h.close({ endReason: this.endReason, endedBy: this.endedBy, transferredTo: this.transferredTo });
  }

  private startEnding(): void {
    if (this.isEnding) return;
    this.isEnding = true;
    this.h.onChange();
  }

  private async transferNow(target: string, mode: TransferMode, summary?: string): Promise<void> {
    this.startEnding();
    if (!this.endReason) this.endReason = 'transferred';
    this.h.transferring(mode);
    this.transferredTo = target;
    this.h.deps.sink.event('state', { state: 'transferring', target, mode, atMs: Math.round(this.h.elapsedMs()) });
    try {
      const r = await this.h.leg.transfer(target, mode, summary ?? (mode === 'warm' ? this.warmSummary() : undefined));
      if (r !== 'done') {
        throw new Error(
          r === 'already-ended'
            ? 'transfer: the call had already ended'
            : `transfer is not possible on ${this.h.leg.info.protocol}: no transfer message and no call control ` +
                'that can transfer this call',
        );
      }
    } catch (err) {
      // No carrier could transfer (no transfer message, no platform REST control): record the failure and end the
      // stream, which hands the call back to the platform (Twilio runs the TwiML after <Connect>).
      this.h.deps.sink.event('incident', { kind: 'transfer', message: (err as Error).message, target });
      this.endReason = 'transfer_failed';
      this.transferredTo = undefined;
      await this.hangupNow('transfer_failed');
      return;
    }
    await this.finalize('transferred');
  }

  private warmSummary(): string {
    const user = this.h.conversation.recentUserTexts(3);
    return user.length ? `The caller said: ${user.join(' ')}` : 'A caller is being transferred to you.';
  }

  private async hangupNow(reason: string): Promise<void> {
    if (this.isFinalized) return;
    this.startEnding();
    // The leg reports its own stop while hanging up; the reason on record is ours.
    if (!this.endReason) this.endReason = reason;
    try {
      await this.h.leg.hangup(reason);
    } catch (err) {
      this.h.deps.logger.warn({ err: (err as Error).message, callId: this.h.leg.info.callId }, 'hangup failed');
    }
    await this.finalize(reason);
  }
}
