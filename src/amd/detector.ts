import { BeepDetector } from '../audio/beep.js';
import { machineWords } from './words.js';

/**
 * Answering-machine detection for one call: a pure state machine driven frame by frame with the caller's audio
 * (for the beep detector) and the VAD's speech probability of that frame, the recognizer's words, and the
 * carrier's own verdict when it gives one. Time is audio time (ms of audio pushed), so a replay at any speed or
 * a test decides exactly as a live call.
 *
 *   listening ──carrier verdict──────────────────────────────────▶ decided (carrier)
 *       │  ──beep (a qualified tone)─────────────────────────────▶ decided machine (beep)
 *       │  ──"leave a message", "not available" … in the words───▶ decided machine (words)
 *       │  ──greeting longer than maxGreetingMs──────────────────▶ decided machine (greeting_long)
 *       │  ──speech, then afterGreetingSilenceMs of silence──────▶ decided human (greeting_short)
 *       └──maxDecisionMs of audio───────────────────────────────▶ decided machine if still talking, else unknown
 *
 * The greeting is the span from the first voiced frame to the last, gaps shorter than afterGreetingSilenceMs
 * bridged (a person's "Hello? ... Hello?" is two short greetings; a recorded greeting talks on). Thresholds follow
 * Asterisk's app_amd (greeting 1500 ms, after-greeting silence 800 ms) with a longer greeting allowance: a person
 * who answers "Hello. One moment, please." talks for 2.3 s, a voicemail greeting 3 s and more.
 *
 * After a machine verdict, the unit tells when to leave a message: at the end of the beep, or, with no beep, after
 * endOfGreetingSilenceMs of silence following the greeting (capped at maxMessageWaitMs of audio).
 */
export type AnsweredBy = 'human' | 'machine' | 'unknown';

export type AmdReason =
  | 'carrier'
  | 'beep'
  | 'words'
  | 'greeting_long'
  | 'greeting_short'
  | 'timeout_talking'
  | 'timeout_silent';

/** Why the voicemail message may start: the beep ended, the greeting ended in silence, the wait ran out, or the
 * carrier reported the end of the greeting (Twilio `machine_end_*`). */
export type MessageCue = 'beep' | 'silence' | 'timeout' | 'carrier';

export interface AmdDecision {
  answeredBy: AnsweredBy;
  reason: AmdReason;
  /** Audio time of the decision, ms since the answer. */
  atMs: number;
}

export interface AmdOptions {
  /** Sample rate of the PCM frames, Hz. */
  sampleRate?: number;
  /** VAD speech probability at or above which a frame is voiced. */
  speechThreshold?: number;
  /** Upper bound on the decision time, ms of audio. */
  maxDecisionMs?: number;
  /** A greeting this long is a machine's, ms. */
  maxGreetingMs?: number;
  /** Silence that ends a person's greeting, ms. */
  afterGreetingSilenceMs?: number;
  /** Voiced runs shorter than this are clicks or noise, not a greeting, ms. */
  minSpeechMs?: number;
  /** With no beep, the machine's greeting is over after this much silence, ms. */
  endOfGreetingSilenceMs?: number;
  /** Leave the message by this audio time whatever the line does, ms. */
  maxMessageWaitMs?: number;
}

export const AMD_DEFAULTS = {
  sampleRate: 8000,
  speechThreshold: 0.5,
  maxDecisionMs: 4000,
  maxGreetingMs: 2700,
  afterGreetingSilenceMs: 800,
  minSpeechMs: 120,
  endOfGreetingSilenceMs: 1500,
  maxMessageWaitMs: 30_000,
} as const;

/** Twilio AnsweredBy (status callback / stream parameter) and similar carrier verdicts -> ours. */
export function carrierAnsweredBy(value: string | undefined): AnsweredBy | undefined {
  if (!value) return undefined;
  const v = value.toLowerCase();
  if (v === 'human') return 'human';
  if (v.startsWith('machine') || v === 'fax') return 'machine';
  if (v === 'unknown') return 'unknown';
  return undefined;
}

export class AmdDetector {
  private readonly o: Required<AmdOptions>;
  private readonly beeps: BeepDetector;
  private t = 0;
  /** First and last voiced frame of the greeting (audio ms), -1 before any. */
  private firstVoiced = -1;
  private lastVoiced = -1;
  /** Current voiced run (start, -1 when silent) for the click filter. */
  private runStart = -1;
  private beepStarted = -1;
  private beepEnded = -1;
  private verdict: AmdDecision | undefined;
  private cue: MessageCue | undefined;

  constructor(opts: AmdOptions = {}) {
    this.o = { ...AMD_DEFAULTS, ...opts };
    this.beeps = new BeepDetector({
      sampleRate: this.o.sampleRate,
      onBeepStart: (_hz, startMs) => {
        this.beepStarted = startMs;
      },
      onBeep: (e) => {
        this.beepEnded = e.endMs;
      },
    });
  }

  /** The verdict, once made (it never changes after). */
  get decision(): AmdDecision | undefined {
    return this.verdict;
  }

  /** Audio pushed so far, ms. */
  get audioMs(): number {
    return this.t;
  }

  /** The beep's end (audio ms), once one has played. */
  get beepEndMs(): number | undefined {
    return this.beepEnded < 0 ? undefined : this.beepEnded;
  }

  /**
   * After a machine verdict: why the message may start now (see MessageCue), else undefined (a beep playing, or
   * the greeting still going on).
   */
  get messageCue(): MessageCue | undefined {
    return this.cue;
  }

  /** One frame of caller audio and its VAD speech probability. Returns the verdict on the frame it is made. */
  frame(pcm: Int16Array, speechProb: number): AmdDecision | undefined {
    this.beeps.push(pcm);
    const ms = (pcm.length * 1000) / this.o.sampleRate;
    const start = this.t;
    this.t += ms;
    // A beep is not speech, whatever the VAD thinks of it.
    if (speechProb >= this.o.speechThreshold && !this.beeps.active) {
      if (this.runStart < 0) this.runStart = start;
      if (this.t - this.runStart >= this.o.minSpeechMs) {
        if (this.firstVoiced < 0) this.firstVoiced = this.runStart;
        this.lastVoiced = this.t;
      }
    } else {
      this.runStart = -1;
    }
    if (this.verdict) {
      this.updateCue();
      return undefined;
    }
    return this.evaluate();
  }

  /** Words from the recognizer (partial or final): a voicemail phrase is a machine. */
  words(text: string): AmdDecision | undefined {
    if (this.verdict || !machineWords(text)) return undefined;
    return this.decide('machine', 'words');
  }

  /** The carrier's own verdict (Twilio AnsweredBy): taken as is when it is a verdict. */
  carrier(value: string | undefined): AmdDecision | undefined {
    const v = carrierAnsweredBy(value);
    if (this.verdict || !v || v === 'unknown') return undefined;
    // Twilio's machine_end_beep / _silence / _other come once the greeting is over: the message may start now.
    if (value!.toLowerCase().startsWith('machine_end')) this.cue = 'carrier';
    return this.decide(v, 'carrier');
  }

  private evaluate(): AmdDecision | undefined {
    const o = this.o;
    if (this.beepStarted >= 0) return this.decide('machine', 'beep');
    const spoke = this.firstVoiced >= 0;
    const silentFor = spoke ? this.t - this.lastVoiced : this.t;
    if (spoke && silentFor < o.afterGreetingSilenceMs && this.lastVoiced - this.firstVoiced >= o.maxGreetingMs)
      return this.decide('machine', 'greeting_long');
    if (spoke && silentFor >= o.afterGreetingSilenceMs) return this.decide('human', 'greeting_short');
    if (this.t >= o.maxDecisionMs)
      return spoke ? this.decide('machine', 'timeout_talking') : this.decide('unknown', 'timeout_silent');
    return undefined;
  }

  private decide(answeredBy: AnsweredBy, reason: AmdReason): AmdDecision {
    this.verdict = { answeredBy, reason, atMs: Math.round(this.t) };
    if (answeredBy === 'machine') this.updateCue();
    return this.verdict;
  }

  private updateCue(): void {
    if (this.cue || this.verdict?.answeredBy !== 'machine') return;
    const o = this.o;
    if (this.beepEnded >= 0) this.cue = 'beep';
    else if (this.beeps.active) return;
    else if (this.t >= o.maxMessageWaitMs) this.cue = 'timeout';
    else if (this.t - Math.max(this.lastVoiced, 0) >= o.endOfGreetingSilenceMs) this.cue = 'silence';
  }
}
