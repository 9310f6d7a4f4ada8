import type { CallSink } from './deps.js';

/**
 * The named states of a call and its transition log (the session drives them):
 *
 *   starting ──greeting?──▶ greeting ─────────────┐
 *       │                                          ▼
 *       └────────────────────────────────────▶ listening ◀──────────────────────┐
 *                                   speech onset │  ▲ pause (not a turn end)     │ reply heard
 *                                                ▼  │                            │
 *                                          user_speaking ──turn committed──▶ thinking ──first audio──▶ agent_speaking
 *                                                ▲                               │ caller goes on          │
 *                                                └───────────────────────────────┴──── barge-in ◀──────────┘
 *   any state ── end_call / end phrase / silence / max duration / caller hangup ──▶ ended
 *   thinking / agent_speaking ── transfer_call / DTMF menu ──▶ transferring ──▶ ended
 *
 * Every transition is recorded with its time (session clock, ms since start) and written to the call record.
 */
export type CallState =
  | 'starting'
  | 'greeting'
  | 'listening'
  | 'user_speaking'
  | 'thinking'
  | 'agent_speaking'
  | 'transferring'
  | 'ended';

export interface StateTransition {
  state: CallState;
  from: CallState;
  /** ms since the session started */
  atMs: number;
  reason?: string;
}

export class CallStates {
  private current: CallState = 'starting';
  readonly transitions: StateTransition[] = [];
  private readonly sink: CallSink;
  private readonly elapsedMs: () => number;

  constructor(sink: CallSink, elapsedMs: () => number) {
    this.sink = sink;
    this.elapsedMs = elapsedMs;
  }

  get state(): CallState {
    return this.current;
  }

  /** Go to `state` (recorded); false when already there or the call has ended. */
  go(state: CallState, reason?: string): boolean {
    if (this.current === state || this.current === 'ended') return false;
    const t: StateTransition = { state, from: this.current, atMs: this.atMs(), reason };
    this.transitions.push(t);
    this.current = state;
    this.sink.event('state', { ...t });
    return true;
  }

  /** A barge-in: to user_speaking with the details of what was cut (heard, intended) on the call record. */
  bargeIn(details: Record<string, unknown>): void {
    const t: StateTransition = { state: 'user_speaking', from: this.current, atMs: this.atMs(), reason: 'barge_in' };
    this.sink.event('state', { ...t, ...details });
    this.transitions.push(t);
    this.current = 'user_speaking';
  }

  private atMs(): number {
    return Math.round(this.elapsedMs() * 10) / 10;
  }
}
