import type { AssistantSettings } from '../assistant.js';
import type { AsrEvent } from '../providers/types.js';
import type { DtmfSource } from '../telephony/leg.js';
import { isAcknowledgement } from './acknowledgement.js';
import type { AgentVoice } from './agent-voice.js';
import type { CallState, CallStates } from './call-state.js';
import type { CallerInput } from './caller-input.js';
import type { Conversation } from './conversation.js';
import type { SessionDeps } from './deps.js';
import type { DtmfInput } from './dtmf-input.js';
import type { CallEnding } from './ending.js';
import type { TurnMarks } from './metrics.js';
import { PHRASES } from './phrases.js';
import type { ReplyDraft } from './reply.js';
import { type CallTimers, DeadlineTimer } from './timers.js';
import { type TurnDecision, type TurnTaking, turnTakingConfig } from './turn-taking.js';
import type { TurnCommit } from './turns.js';
import { isBackchannel } from './words.js';

/**
 * The caller's side of the call's state machine: ASR words and turn-taking decisions become state changes,
 * barge-ins (the agent cut to what was heard, or a turn taken back when nothing was said yet), caller turns, and
 * turns held until the agent finishes (interruptions off). DTMF digits collected into a turn come here too.
 * It owns the barge-in count, the collected digits and the held turn.
 */
export interface CallerTurnsHost {
  readonly states: CallStates;
  readonly voice: AgentVoice;
  readonly conversation: Conversation;
  readonly turns: TurnTaking;
  readonly input: CallerInput;
  readonly timers: CallTimers;
  readonly ending: CallEnding;
  readonly dtmf: DtmfInput;
  readonly deps: SessionDeps;
  now(): number;
  /** Session clock at the call's start. */
  readonly t0: number;
  settings(): AssistantSettings | undefined;
  setState(state: CallState, reason: string): void;
  /** A caller turn to answer (in the background). */
  userTurn(text: string, marks: Omit<TurnMarks, 'turn'>): void;
  /** Say something outside the conversation (a reprompt). */
  sayAside(text: string, reason: string): void;
  /** The marks of the turn being answered, if any. */
  currentTurnMarks(): TurnMarks | undefined;
  /** Start preparing the reply to these words (preemptive generation); nothing is heard until it is adopted. */
  prepareReply(text: string): ReplyDraft | undefined;
}

export class CallerTurns {
  bargeIns = 0;
  /** Pauses for caller speech that resumed the agent (noise, coughs, acknowledgements). */
  falseInterruptions = 0;
  /** Session-clock onset of caller speech over the agent, for the barge-in latency. */
  private overlapOnset: number | undefined;
  /** Utterances the recognizer could not make sense of, answered with a reprompt. */
  unintelligible = 0;
  readonly digits: string[] = [];
  private held: TurnCommit | undefined;
  /** The reply being prepared on the caller's words before the commit (preemptive generation). */
  private draft: ReplyDraft | undefined;
  /** Replies prepared before the commit: adopted by the turn, or dropped unheard (the caller went on). */
  readonly preemptive = { prepared: 0, adopted: 0, discarded: 0 };
  private readonly h: CallerTurnsHost;
  /** One timer for the endpointing deadline. */
  private readonly tick: DeadlineTimer;

  constructor(host: CallerTurnsHost) {
    this.h = host;
    this.tick = new DeadlineTimer(host.now, (now) => {
      if (host.ending.finalized) return;
      host.turns.tick(now);
      this.scheduleTurnTick();
    });
  }

  /** The endpointing deadline may have moved: the timer follows it. */
  scheduleTurnTick(): void {
    this.tick.set(this.h.ending.finalized ? undefined : this.h.turns.deadline);
  }

  /** Tell turn-taking what the agent is doing (its phase and since when) and whether it keeps the floor. */
  syncAgent(): void {
    const { h } = this;
    const c = h.voice.current;
    const s = h.states.state;
    const phase =
      !c || c.u.isDone
        ? 'quiet'
        : s === 'agent_speaking' || s === 'greeting'
          ? 'speaking'
          : s === 'thinking'
            ? 'thinking'
            : 'quiet';
    h.turns.agent(phase, c?.u.startedAt ?? 0);
    h.turns.hold(h.ending.ending || h.ending.hasPending || c?.hold === true);
  }

  /** A key press (the call record has it; the DTMF collector decides what it means). */
  onKey(digit: string, source: DtmfSource, durationMs: number | undefined, atMs: number): void {
    const { h } = this;
    h.deps.sink.event('dtmf', { digit, source, durationMs, turn: h.conversation.turn, atMs: Math.round(atMs) });
    if (h.states.state === 'listening') h.timers.armSilence();
    h.dtmf.press(digit);
  }

  onAsr(ev: AsrEvent): void {
    const { h } = this;
    if (h.ending.finalized) return;
    const now = h.now();
    switch (ev.type) {
      case 'partial':
        h.turns.asrPartial(ev.text);
        // Knowledge looked up while endpointing waits: on the words so far, and again at the final (below).
        if (ev.text) h.deps.retriever?.prefetch?.(h.turns.text);
        this.afterWords();
        break;
      case 'final': {
        // Where in the caller's audio its words end (session clock), when the recognizer gives word times.
        const last = ev.words.at(-1);
        const endAt = last ? h.input.asrAudioAt(last.endMs) : undefined;
        const startAt = ev.words.length ? h.input.asrAudioAt(ev.words[0]!.startMs) : undefined;
        h.turns.asrFinal(ev.text, ev.speechFinal, now, endAt, ev.confidence, startAt);
        if (ev.text) h.deps.retriever?.prefetch?.(h.turns.text);
        this.afterWords();
        break;
      }
      case 'utterance_end':
        h.turns.utteranceEnd(now);
        break;
      case 'eager_end_of_turn':
        h.turns.asrEagerEnd(ev.text);
        break;
      case 'turn_resumed':
        h.turns.asrTurnResumed();
        break;
      default:
        break;
    }
    this.scheduleTurnTick();
  }

  onDecision(d: TurnDecision): void {
    const { h } = this;
    switch (d.type) {
      case 'speech_start':
        // Onset of speech over the agent (session clock): the barge-in latency runs from here to the pause.
        this.overlapOnset = d.overlap ? d.atMs : undefined;
        // What the caller answers: the agent's last words (a question for a number makes endpointing wait).
        h.turns.agentSaid(h.conversation.transcript.findLast((t) => t.role === 'assistant')?.text ?? '');
        if (h.ending.ending) return;
        h.timers.disarmSilence();
        if (h.states.state === 'listening') h.setState('user_speaking', 'speech_start');
        return;
      case 'speech_end':
        // Ask the recognizer for its final now rather than after its own endpointing (Deepgram Finalize).
        h.input.finalize();
        return;
      case 'pause':
        if (h.voice.pause()) {
          const bargeInMs = this.overlapOnset === undefined ? undefined : Math.round(h.now() - this.overlapOnset);
          h.deps.sink.event('state', { state: h.states.state, paused: true, atMs: this.atMs(), bargeInMs });
        }
        return;
      case 'resume':
        if (h.voice.resume()) {
          this.falseInterruptions++;
          h.deps.sink.event('state', { state: h.states.state, resumed: true, atMs: this.atMs() });
        }
        return;
      case 'barge_in':
        if (h.voice.talking && !h.ending.ending && !h.ending.hasPending) this.bargeIn(d.by);
        return;
      case 'unintelligible':
        // Real speech, no words: the caller is asked again, never left in silence.
        if (h.ending.ending || h.voice.talking) return;
        this.unintelligible++;
        h.deps.sink.event('transcript', {
          role: 'user',
          text: '',
          turn: h.conversation.turn,
          unintelligible: true,
          voicedMs: d.voicedMs,
          atMs: this.atMs(),
        });
        h.sayAside(PHRASES.didNotCatch, 'unintelligible');
        return;
      case 'commit':
        this.onCommit(d.turn, d.overlap, d.voicedMs, d.resumed === true);
        return;
      case 'prepare':
        this.dropDraft();
        if (h.ending.ending) return;
        this.draft = h.prepareReply(d.text);
        if (this.draft) this.preemptive.prepared++;
        return;
      case 'discard':
        this.dropDraft();
        return;
    }
  }

  /**
   * The reply to the committed words `text` with `llm`: the prepared one when it was made on the same words,
   * history and LLM (it is adopted), else none (any prepared one is dropped, unheard).
   */
  takeDraft(text: string, llm: unknown): ReplyDraft | undefined {
    const d = this.draft;
    this.draft = undefined;
    if (d?.matches(text, this.h.conversation.history.length, llm)) {
      this.preemptive.adopted++;
      return d;
    }
    if (d) this.discardDraft(d);
    return undefined;
  }

  /** The call ends: a prepared reply is dropped. */
  close(): void {
    this.dropDraft();
  }

  private dropDraft(): void {
    const d = this.draft;
    this.draft = undefined;
    if (d) this.discardDraft(d);
  }

  private discardDraft(d: ReplyDraft): void {
    if (d.discarded) return;
    d.discard();
    this.preemptive.discarded++;
  }

  /** The agent finished speaking: a turn held while it talked (interruptions off) is answered now. */
  takeHeld(): boolean {
    const q = this.held;
    if (!q) return false;
    this.held = undefined;
    this.h.setState('user_speaking', 'queued_turn');
    this.onCommit(q, false, 0);
    return true;
  }

  /** Digits collected (terminator, timeout, max): a caller turn of their own, cutting the agent off. */
  onDigits(digits: string, reason: string): void {
    const { h } = this;
    this.digits.push(digits);
    h.deps.sink.event('dtmf', { digits, reason, turn: h.conversation.turn + 1, collected: true });
    this.interruptForInput();
    const t = h.now();
    h.userTurn(`DTMF: ${digits}`, { committedAt: t, speechEndAt: t });
  }

  /** DTMF cuts the agent off like speech does. */
  interruptForInput(): void {
    const { h } = this;
    h.timers.disarmSilence();
    h.voice.cut(true);
    h.turns.reset();
    this.scheduleTurnTick();
  }

  /** Words arrived: they start a turn the VAD missed. */
  private afterWords(): void {
    const { h } = this;
    if (h.turns.text && h.states.state === 'listening') {
      h.timers.disarmSilence();
      h.setState('user_speaking', 'asr_words');
    }
  }

  /** Barge-in: caller speech while the agent speaks (or is about to) cancels the reply. */
  private bargeIn(by: string): void {
    const { h } = this;
    const wasThinking = h.states.state === 'thinking' && h.voice.current!.u.samplesQueued === 0;
    const { u, r } = h.voice.cut(false)!;
    const heard = u.heardText();
    this.bargeIns++;
    const marks = h.currentTurnMarks();
    if (marks) marks.interrupted = true;
    h.states.bargeIn({ by, heard, intended: u.fullText });
    // The caller only paused (nothing heard yet): take the committed turn back, with whatever the reply had
    // streamed into the history, and let it grow.
    const takenBack = wasThinking ? h.conversation.takeBackUserTurn(r) : undefined;
    if (!wasThinking) h.conversation.truncate(r, heard, u.truncation);
    this.syncAgent();
    h.turns.bargedIn(h.now(), takenBack);
  }

  private onCommit(c: TurnCommit, overlap: boolean, voicedMs: number, resumed = false): void {
    const { h } = this;
    if (h.ending.ending) return;
    const state = h.states.state;
    const speaking = h.voice.talking && (state === 'agent_speaking' || state === 'greeting');
    const marks = { speechEndAt: c.speechEndAt, asrFinalAt: c.asrFinalAt, committedAt: c.committedAt };
    if (overlap || speaking) {
      // Said over the agent without cutting it off. Only a short acknowledgement ("uh-huh", "thank you") is a
      // backchannel; anything else is a turn: with interruptions off it waits for the agent to finish, else the
      // agent stops (keeping what was heard) and answers it.
      if (isAcknowledgement(c.text, voicedMs, { late: resumed, confidence: c.confidence })) {
        // A reply prepared on these words is never spoken: stop its LLM request now.
        this.dropDraft();
        h.conversation.backchannel(c.text);
        return;
      }
      // Interruptions off, or uninterruptible speech playing: the turn waits for the agent to finish.
      if (!turnTakingConfig(h.settings()).interruptible || (speaking && h.voice.current?.hold)) {
        if (speaking) this.held = c;
        else h.userTurn(c.text, marks);
        return;
      }
      if (speaking && !h.ending.hasPending) {
        this.bargeIns++;
        h.voice.cut(true);
        h.states.bargeIn({ by: 'commit' });
      }
      h.userTurn(c.text, marks);
      return;
    }
    // Nothing was heard of a reply in preparation: an acknowledgement adds nothing to the turn being answered.
    if (isBackchannel(c.text) && state === 'thinking') {
      this.dropDraft();
      return;
    }
    h.userTurn(c.text, marks);
  }

  private atMs(): number {
    return Math.round(this.h.now() - this.h.t0);
  }
}
