import { type Completeness, completeness } from './words.js';

/**
 * Endpointing: when has the caller finished their turn? Three signals are combined:
 *  - VAD speech end (the audio went quiet; timed at the last speech frame),
 *  - ASR finals / utterance end (the recognizer thinks the phrase is over, and gives the words),
 *  - the words themselves: a complete question commits after minDelayMs, a plain statement a little later, a turn
 *    that trails off ("and", "um", "my number is") waits maxDelayMs for more.
 * The commit deadline counts from the end of speech, so VAD hangover and ASR latency are absorbed by the delay
 * rather than added to it. New speech before the deadline cancels it (the caller only paused).
 *
 * One timer per pause, never per frame.
 */
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
}

export interface TurnDetectorEvents {
  onCommit(turn: TurnCommit): void;
}

export class TurnDetector {
  private finals: string[] = [];
  private partial = '';
  private speaking = false;
  private speechEndAt = -1;
  private asrFinalAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private deadline = 0;
  private cfg: EndpointingConfig;
  private readonly now: () => number;
  private readonly events: TurnDetectorEvents;

  constructor(cfg: EndpointingConfig, now: () => number, events: TurnDetectorEvents) {
    this.cfg = cfg;
    this.now = now;
    this.events = events;
  }

  setConfig(cfg: EndpointingConfig): void {
    this.cfg = cfg;
  }

  /** The words heard so far in this turn (finals plus the current partial). */
  get text(): string {
    const f = this.finals.join(' ');
    return this.partial ? (f ? `${f} ${this.partial}` : this.partial) : f;
  }

  get hasPendingTurn(): boolean {
    return this.speaking || this.finals.length > 0 || this.partial !== '';
  }

  speechStarted(): void {
    this.speaking = true;
    this.cancelTimer();
  }

  speechEnded(atMs: number): void {
    this.speaking = false;
    this.speechEndAt = atMs;
    this.schedule();
  }

  asrPartial(text: string): void {
    this.partial = text.trim();
  }

  asrFinal(text: string, speechFinal: boolean): void {
    const t = text.trim();
    this.partial = '';
    if (t) {
      this.finals.push(t);
      this.asrFinalAt = this.now();
    }
    // The recognizer saw the end of speech even if the VAD did not (quiet line, soft ending).
    if (speechFinal && this.speechEndAt < 0) this.speechEndAt = this.now();
    if (!this.speaking) this.schedule();
  }

  utteranceEnd(): void {
    if (this.speechEndAt < 0) this.speechEndAt = this.now();
    if (this.partial) {
      this.finals.push(this.partial);
      this.partial = '';
      this.asrFinalAt = this.now();
    }
    this.speaking = false;
    this.schedule();
  }

  /** Prepend text of a turn that was committed then taken back (the caller went on talking). */
  restore(text: string): void {
    if (text) this.finals.unshift(text);
  }

  /** Drop everything (after a commit, or when DTMF takes over). */
  reset(): void {
    this.cancelTimer();
    this.finals = [];
    this.partial = '';
    this.speechEndAt = -1;
    this.asrFinalAt = undefined;
  }

  close(): void {
    this.cancelTimer();
  }

  /** Delay after the end of speech for this text, ms. */
  delayFor(c: Completeness): number {
    const { minDelayMs: min, maxDelayMs: max } = this.cfg;
    switch (c) {
      case 'question':
        return min;
      case 'statement':
        return Math.min(max, min + Math.round((max - min) * 0.1));
      default:
        // Trailing words, or no words yet (ASR final still in flight): wait up to the maximum.
        return max;
    }
  }

  private schedule(): void {
    if (this.speaking || this.speechEndAt < 0) return;
    const c = completeness(this.text);
    const deadline = this.speechEndAt + this.delayFor(c);
    if (this.timer && deadline === this.deadline) return;
    this.cancelTimer();
    this.deadline = deadline;
    const wait = Math.max(0, deadline - this.now());
    this.timer = setTimeout(() => this.fire(), wait);
  }

  private fire(): void {
    this.timer = undefined;
    if (this.speaking) return;
    const text = this.text;
    const c = completeness(text);
    if (c === 'empty') {
      // Noise, or ASR gave nothing: wait for a final a little longer, then give up on this pause.
      if (this.now() - this.speechEndAt < this.cfg.maxDelayMs) {
        this.timer = setTimeout(() => this.fire(), this.cfg.maxDelayMs - (this.now() - this.speechEndAt));
        return;
      }
      // Noise, or a slow recognizer: nothing to commit yet. The end of speech is kept, so a late final commits at
      // once and the turn's endpointing figure shows the real wait.
      return;
    }
    const commit: TurnCommit = {
      text,
      speechEndAt: this.speechEndAt,
      asrFinalAt: this.asrFinalAt,
      committedAt: this.now(),
      completeness: c,
    };
    this.reset();
    this.events.onCommit(commit);
  }

  private cancelTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}
