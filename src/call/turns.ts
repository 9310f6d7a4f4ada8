import { type Completeness, completeness, sameWords } from './words.js';

/**
 * Endpointing: when has the caller finished their turn? Three signals are combined:
 *  - VAD speech end (the audio went quiet; timed at the last speech frame),
 *  - ASR finals / utterance end (the recognizer thinks the phrase is over, and gives the words),
 *  - the words themselves, with the recognizer's punctuation: a question or a sentence ended by "." / "!" commits
 *    after minDelayMs, unpunctuated words a little later, a turn that trails off (",", "and", "um", "my number is",
 *    a digit group read out) waits maxDelayMs for more.
 * The commit deadline counts from the end of speech, so VAD hangover and ASR latency are absorbed by the delay
 * rather than added to it. New speech before the deadline cancels it (the caller only paused).
 *
 * Pure: no timers and no clock of its own. Every input carries its time; `deadline` says when `tick()` must be
 * called next (the session keeps one timer per pause, never one per frame).
 */
/**
 * After the longest endpointing wait, how much longer a pause with no words waits for a slow recognizer, ms: at
 * least this (a streaming recognizer gives words while the caller speaks), or NO_INTERIM_GRACE_MS for one that
 * gives words only at the end (the offline one), and at least twice the slowest final seen in the call (a loaded
 * offline recognizer lags by seconds: a reprompt must not fire before its late final).
 */
const ASR_GRACE_MS = 2000;
const NO_INTERIM_GRACE_MS = 6000;
/** The grace never grows past this, ms. */
const MAX_ASR_GRACE_MS = 8000;
/**
 * A final whose last word ends this close before the VAD's end of speech covers that speech run, ms (the VAD's end
 * is late by its own overhang; the two clocks differ by the line's jitter).
 */
const COVER_MARGIN_MS = 300;
/** Beyond the recognizer's slowest final so far, how long stale words wait for the next one, ms. */
const STALE_MARGIN_MS = 300;

export interface EndpointingConfig {
  minDelayMs: number;
  maxDelayMs: number;
}

export interface TurnCommit {
  text: string;
  /** Clock time of the end of the caller's speech (ms, session clock). */
  speechEndAt: number;
  /** When the last ASR final arrived. */
  asrFinalAt?: number;
  committedAt: number;
  completeness: Completeness;
  /** The recognizer's lowest confidence in the turn's finals (0..1), when it gives one. */
  confidence?: number;
}

export class Endpointer {
  private finals: string[] = [];
  private partial = '';
  private speaking = false;
  private speechEndAt = -1;
  private asrFinalAt: number | undefined;
  /** The slowest final seen in the call, ms after the end of the speech it ended. */
  private slowestFinalMs = 0;
  private graceMs = NO_INTERIM_GRACE_MS;
  /** The recognizer gives words only at the end of an utterance (no interim words while the caller speaks). */
  private endOnly = true;
  /**
   * An end-only recognizer has not yet given the words of the caller's last speech run: the words so far are from
   * before it and cannot say whether the turn is over (the run may be "and then..."), so the commit waits for its
   * final (at most maxDelayMs after the end of speech).
   */
  private stale = false;
  /** The recognizer ended the turn: its deadline (now) is not moved by the words' completeness. */
  private modelEnded = false;
  /** The agent asked for a number: an unpunctuated answer waits maxDelayMs (digit groups with pauses between). */
  private numberAsked = false;
  /** The recognizer's lowest confidence in this turn's finals, when it gives one. */
  confidence: number | undefined;
  /** How far into the caller's audio the recognizer's finals reach (session clock), when it gives word times. */
  private coveredAt: number | undefined;
  /**
   * The words of the last commit that were still a partial (the recognizer's final had not come): its late final
   * of the same words, with no speech since, is that turn again, not a new one.
   */
  private committedPartial: string | undefined;
  /** When tick() must run next (ms, session clock); undefined when nothing is pending. */
  deadline: number | undefined;
  private cfg: EndpointingConfig;

  constructor(cfg: EndpointingConfig) {
    this.cfg = cfg;
  }

  setConfig(cfg: EndpointingConfig): void {
    this.cfg = cfg;
  }

  /** The recognizer streams words while the caller speaks (a shorter wait for a final that never comes). */
  interimWords(on: boolean): void {
    this.graceMs = on ? ASR_GRACE_MS : NO_INTERIM_GRACE_MS;
    this.endOnly = !on;
    if (on) this.stale = false;
  }

  /** The agent's last words asked for a number (a phone number, a code, a date of birth). */
  numberExpected(on: boolean): void {
    this.numberAsked = on;
  }

  /** The words heard so far in this turn (finals plus the current partial). */
  get text(): string {
    const f = this.finals.join(' ');
    return this.partial ? (f ? `${f} ${this.partial}` : this.partial) : f;
  }

  /** The words end in an interim (the recognizer's final of the last ones is not in yet). */
  get interim(): boolean {
    return this.partial !== '';
  }

  /** The caller is quiet and a commit is pending (the words may still change before it). */
  get awaitingCommit(): boolean {
    return !this.speaking && this.deadline !== undefined;
  }

  get hasPendingTurn(): boolean {
    return this.speaking || this.finals.length > 0 || this.partial !== '';
  }

  speechStarted(): void {
    this.speaking = true;
    this.committedPartial = undefined;
    this.deadline = undefined;
    this.modelEnded = false;
    if (this.endOnly) this.stale = true;
  }

  speechEnded(atMs: number): void {
    this.speaking = false;
    this.speechEndAt = atMs;
    // The recognizer already gave the words of this run (during the VAD's hangover): its word times say so, or,
    // from a recognizer without word times, a final that came after the caller's last voiced frame (it cannot
    // finalize words before they are said).
    if (this.stale && (this.coveredAt !== undefined ? this.covers() : (this.asrFinalAt ?? -1) >= atMs)) {
      this.stale = false;
    }
    this.schedule();
  }

  asrPartial(text: string): void {
    this.partial = text.trim();
    // Words of the run in progress: the recognizer is on it.
    if (this.partial) this.stale = false;
  }

  asrFinal(text: string, speechFinal: boolean, now: number, wordsEndAt?: number, confidence?: number): void {
    const t = text.trim();
    if (this.committedPartial !== undefined && t && sameWords(t, this.committedPartial)) {
      // The late final of words already committed from their partial (no speech since): nothing new was said.
      this.committedPartial = undefined;
      return;
    }
    if (t && confidence !== undefined) this.confidence = Math.min(this.confidence ?? confidence, confidence);
    if (wordsEndAt !== undefined) {
      this.coveredAt = Math.max(this.coveredAt ?? wordsEndAt, wordsEndAt);
      // How far behind the audio the recognizer runs (a loaded offline one: seconds).
      if (t) this.slowestFinalMs = Math.max(this.slowestFinalMs, now - wordsEndAt);
    }
    this.partial = '';
    if (t) {
      this.finals.push(t);
      this.asrFinalAt = now;
      if (!this.speaking && this.speechEndAt >= 0 && wordsEndAt === undefined)
        this.slowestFinalMs = Math.max(this.slowestFinalMs, now - this.speechEndAt);
    }
    // A final that arrives while the caller speaks is about an earlier run, not the one in progress; one that
    // arrives after may still be about an earlier run (a recognizer that lags): its word times say.
    if (!this.speaking && this.covers()) this.stale = false;
    // The recognizer saw the end of speech even if the VAD did not (quiet line, soft ending).
    if (speechFinal && this.speechEndAt < 0) this.speechEndAt = now;
    if (!this.speaking) this.schedule();
  }

  utteranceEnd(now: number): void {
    if (this.speechEndAt < 0) this.speechEndAt = now;
    if (this.partial) {
      this.finals.push(this.partial);
      this.partial = '';
      this.asrFinalAt = now;
    }
    // The recognizer's utterance ended, but the voice detector hears the caller go on (an end-only recognizer
    // reports the end of what was said before a short pause late, often after the caller has resumed): the turn
    // stays open until the VAD's own end of speech.
    if (this.speaking) return;
    if (this.covers()) this.stale = false;
    this.schedule();
  }

  /** The recognizer's words reach the end of the caller's last speech run (or it gives no word times to tell). */
  private covers(): boolean {
    return this.coveredAt === undefined || this.coveredAt >= this.speechEndAt - COVER_MARGIN_MS;
  }

  /**
   * The recognizer decided the turn is over (Flux EndOfTurn): commit at the next tick, whatever the words look like
   * and though the VAD may still be in its hangover. False when there is nothing to commit.
   */
  endOfTurn(now: number): boolean {
    if (!this.finals.length && !this.partial) return false;
    if (this.speaking || this.speechEndAt < 0) this.speechEndAt = now;
    this.speaking = false;
    this.stale = false;
    this.modelEnded = true;
    this.deadline = now;
    return true;
  }

  /** Prepend text of a turn that was committed then taken back (the caller went on talking). */
  restore(text: string): void {
    if (text) this.finals.unshift(text);
  }

  /** Drop everything (after a commit, or when DTMF takes over). */
  reset(): void {
    this.deadline = undefined;
    this.finals = [];
    this.partial = '';
    this.speechEndAt = -1;
    this.asrFinalAt = undefined;
    this.stale = false;
    this.confidence = undefined;
    this.modelEnded = false;
  }

  /** Delay after the end of speech for this text, ms. */
  delayFor(c: Completeness): number {
    const { minDelayMs: min, maxDelayMs: max } = this.cfg;
    switch (c) {
      case 'question':
      case 'complete':
        return min;
      case 'statement':
        // A number being read: the recognizer often does not hear the digits as digits (8 kHz), so what it gives
        // cannot say whether the last group was read; the pause can.
        if (this.numberAsked) return max;
        return Math.min(max, min + Math.round((max - min) * 0.1));
      default:
        // Trailing words, or no words yet (ASR final still in flight): wait up to the maximum.
        return max;
    }
  }

  /**
   * The deadline has come (`now` >= deadline): the turn, when there is one to commit; 'nothing' when the pause
   * ended with no words at all after waiting for the recognizer (noise, or speech it could not make sense of).
   */
  tick(now: number): TurnCommit | 'nothing' | undefined {
    if (this.deadline === undefined || now < this.deadline) return undefined;
    this.deadline = undefined;
    if (this.speaking) return undefined;
    const text = this.text;
    const c = completeness(text);
    if (this.stale && c !== 'empty' && now < this.speechEndAt + this.staleWaitMs()) {
      // The words of the last run are still with the recognizer: its final (or the longest wait) decides.
      this.deadline = this.speechEndAt + this.staleWaitMs();
      return undefined;
    }
    if (c === 'empty') {
      // Noise, or ASR gave nothing: wait for a final a little longer, then give up on this pause. The end of speech
      // is kept, so a late final commits at once and the turn's endpointing figure shows the real wait.
      const grace = Math.max(this.graceMs, Math.min(MAX_ASR_GRACE_MS, 2 * this.slowestFinalMs));
      const giveUp = this.speechEndAt + this.cfg.maxDelayMs + grace;
      if (now < giveUp) {
        this.deadline = now < this.speechEndAt + this.cfg.maxDelayMs ? this.speechEndAt + this.cfg.maxDelayMs : giveUp;
        return undefined;
      }
      return 'nothing';
    }
    const commit: TurnCommit = {
      text,
      speechEndAt: this.speechEndAt,
      asrFinalAt: this.asrFinalAt,
      committedAt: now,
      completeness: c,
      confidence: this.confidence,
    };
    const partial = this.partial;
    this.reset();
    this.committedPartial = partial || undefined;
    return commit;
  }

  /**
   * Commit now whatever was heard, though the caller is still speaking (a caller who never pauses is cut into
   * turns): the turn in progress goes on as a new one.
   */
  force(now: number): TurnCommit | undefined {
    const text = this.text;
    const speaking = this.speaking;
    const c = completeness(text);
    if (c === 'empty') return undefined;
    const commit: TurnCommit = {
      text,
      speechEndAt: now,
      asrFinalAt: this.asrFinalAt,
      committedAt: now,
      completeness: c,
      confidence: this.confidence,
    };
    this.reset();
    this.speaking = speaking;
    return commit;
  }

  private schedule(): void {
    if (this.speaking || this.speechEndAt < 0 || this.modelEnded) return;
    this.deadline = this.speechEndAt + (this.stale ? this.staleWaitMs() : this.delayFor(completeness(this.text)));
  }

  /**
   * How long words that predate the last speech run wait for the recognizer's final of it, ms: the longest
   * endpointing wait, or the recognizer's observed lag behind the audio if longer (bounded).
   */
  private staleWaitMs(): number {
    return Math.max(this.cfg.maxDelayMs, Math.min(MAX_ASR_GRACE_MS, this.slowestFinalMs + STALE_MARGIN_MS));
  }
}
