import type { AssistantSettings } from '../assistant.js';

/**
 * Call control timers (issue 6, deliverable 7): the caller's silence while the agent listens (reprompt, then hang
 * up after settings.silenceReprompts) and the maximum call duration. One timer each per call, re-armed on state
 * changes, never per frame. The session decides what to say and how to end; this only keeps time and counts.
 */
export interface CallTimerEvents {
  /** The caller was silent for silenceTimeoutMs; `n` is the reprompt number (1-based). */
  onReprompt(n: number): void;
  /** Silent again after the last reprompt. */
  onSilenceTimeout(): void;
  onMaxDuration(): void;
}

export class CallTimers {
  private silenceTimer: NodeJS.Timeout | undefined;
  private maxTimer: NodeJS.Timeout | undefined;
  private reprompts = 0;
  private closed = false;
  private settings: AssistantSettings;
  private readonly events: CallTimerEvents;

  constructor(settings: AssistantSettings | undefined, events: CallTimerEvents) {
    this.settings = settings ?? {};
    this.events = events;
  }

  setSettings(settings: AssistantSettings | undefined): void {
    this.settings = settings ?? {};
  }

  /** The call started: the maximum duration counts from here. */
  start(): void {
    if (this.closed) return;
    const sec = this.settings.maxDurationSec ?? 1800;
    this.maxTimer = setTimeout(() => {
      if (!this.closed) this.events.onMaxDuration();
    }, sec * 1000);
  }

  /** The agent listens: start counting the caller's silence. */
  armSilence(): void {
    this.disarmSilence();
    if (this.closed) return;
    this.silenceTimer = setTimeout(() => this.onSilence(), this.settings.silenceTimeoutMs ?? 10_000);
  }

  /** The caller spoke / pressed a key, or the agent talks. */
  disarmSilence(): void {
    if (this.silenceTimer) {
      clearTimeout(this.silenceTimer);
      this.silenceTimer = undefined;
    }
  }

  /** A real caller turn: the reprompt count starts over. */
  callerResponded(): void {
    this.reprompts = 0;
  }

  close(): void {
    this.closed = true;
    this.disarmSilence();
    if (this.maxTimer) clearTimeout(this.maxTimer);
    this.maxTimer = undefined;
  }

  private onSilence(): void {
    this.silenceTimer = undefined;
    if (this.closed) return;
    if (this.reprompts < (this.settings.silenceReprompts ?? 2)) {
      this.reprompts++;
      this.events.onReprompt(this.reprompts);
      return;
    }
    this.events.onSilenceTimeout();
  }
}

/** One timer for a moving deadline (the endpointing deadline of TurnTaking): re-set only when the deadline moves. */
export class DeadlineTimer {
  private timer: NodeJS.Timeout | undefined;
  private at: number | undefined;
  private readonly now: () => number;
  private readonly fire: (now: number) => void;

  constructor(now: () => number, fire: (now: number) => void) {
    this.now = now;
    this.fire = fire;
  }

  /** Fire at `at` (session clock); undefined cancels. */
  set(at: number | undefined): void {
    if (at === this.at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.at = at;
    if (at === undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.at = undefined;
        this.fire(this.now());
      },
      Math.max(0, at - this.now()),
    );
  }
}
