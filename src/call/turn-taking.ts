import type { AssistantSettings } from '../assistant.js';
import { Endpointer, type EndpointingConfig, type TurnCommit } from './turns.js';
import { SpeechGate } from './vad.js';
import { isBackchannel } from './words.js';

/**
 * Turn-taking for one call: voice activity (SpeechGate), endpointing (Endpointer) and the interruption policy, as
 * one unit with a pure decision API. Inputs carry their own time (session clock, ms): inbound frames with the VAD's
 * speech probability, ASR words, what the agent is doing, and tick() at `deadline`. Outputs are decisions handed to
 * `decide`, in order; the unit has no timers, reads no clock, does no I/O, so tests drive it frame by frame.
 *
 *   frame(p) ──▶ speech_start / speech_end        (VAD onset / offset, hysteresis on the audio clock)
 *   frame(p), asr words ──▶ barge_in               (caller over an interruptible agent: sustained speech, not a
 *                                                   backchannel; without words it must last NO_WORDS_EXTRA_MS more)
 *   tick(), asr final ──▶ commit                   (end of turn; `overlap` when said over the agent)
 */
export type AgentPhase = 'quiet' | 'thinking' | 'speaking';

export type TurnDecision =
  | { type: 'speech_start'; atMs: number; overlap: boolean }
  | { type: 'speech_end'; atMs: number }
  | { type: 'barge_in'; by: 'vad' | 'asr' }
  | { type: 'commit'; turn: TurnCommit; overlap: boolean };

export interface TurnTakingConfig {
  endpointing: EndpointingConfig;
  /** Sustained caller speech (with words that are not a backchannel) that cuts the agent off, ms. */
  bargeInSpeechMs: number;
  /** False: the caller never cuts the agent off; their words wait for the agent to finish. */
  interruptible: boolean;
}

/** The policy from the assistant's settings (documented in src/assistant.ts). */
export function turnTakingConfig(settings: AssistantSettings | undefined): TurnTakingConfig {
  const s = settings ?? {};
  const sensitivity = s.interruptionSensitivity ?? 0.5;
  // Sensitivity 0.5 keeps bargeInMinSpeechMs as configured; 1 halves it, lower values stretch it (0.25 -> 2x).
  const base = s.bargeInMinSpeechMs ?? 200;
  const e = s.endpointing ?? {};
  const minDelayMs = e.minDelayMs ?? 250;
  return {
    interruptible: sensitivity > 0,
    bargeInSpeechMs: sensitivity >= 0.5 ? base * (1 - (sensitivity - 0.5)) : base / (sensitivity * 2),
    endpointing: { minDelayMs, maxDelayMs: Math.max(minDelayMs, e.maxDelayMs ?? 1500) },
  };
}

/** Extra sustained speech needed for a barge-in while the recognizer has given no words, ms. */
export const NO_WORDS_EXTRA_MS = 500;

export class TurnTaking {
  private readonly gate: SpeechGate;
  private readonly ep: Endpointer;
  private cfg: TurnTakingConfig;
  private readonly decide: (d: TurnDecision) => void;
  private phase: AgentPhase = 'quiet';
  /** Session clock when the agent's utterance began: caller speech counts toward a barge-in only from here. */
  private agentSince = 0;
  /** The agent may not be cut off now (a hangup or transfer is pending, the call is ending). */
  private holding = false;
  /** The caller's current speech began while the agent was talking and has not barged in. */
  private overlap = false;

  constructor(cfg: TurnTakingConfig, decide: (d: TurnDecision) => void) {
    this.cfg = cfg;
    this.decide = decide;
    this.ep = new Endpointer(cfg.endpointing);
    this.gate = new SpeechGate(
      { threshold: 0.5, onsetMs: 60, hangoverMs: 160 },
      {
        onSpeechStart: (at) => this.speechStart(at),
        onSpeechEnd: (at) => {
          this.ep.speechEnded(at);
          this.decide({ type: 'speech_end', atMs: at });
        },
      },
    );
  }

  setConfig(cfg: TurnTakingConfig): void {
    this.cfg = cfg;
    this.ep.setConfig(cfg.endpointing);
  }

  /* ---------------------------------------------------------------- what the session tells it */

  /** What the agent is doing: quiet (listening), thinking (reply in preparation) or speaking; `sinceMs` its start. */
  agent(phase: AgentPhase, sinceMs: number): void {
    this.phase = phase;
    this.agentSince = sinceMs;
  }

  /** The agent keeps the floor whatever the caller does (pending hangup / transfer, call ending). */
  hold(on: boolean): void {
    this.holding = on;
  }

  /** One inbound frame starting at `atMs`, `frameMs` long, with speech probability `p`. */
  frame(atMs: number, frameMs: number, p: number): void {
    this.gate.push(atMs, frameMs, p);
    // Sustained speech counts from the later of its onset and the agent starting to speak.
    if (this.gate.speaking && this.phase !== 'quiet' && this.cfg.interruptible) {
      const sustained = this.gate.voicedSince(this.agentSince);
      // Words that are not a backchannel cut in at bargeInSpeechMs; speech the recognizer has not put into words
      // yet must last longer, so "uh-huh" / "okay" (0.2-0.5 s) and noise do not cut the agent off.
      const words = this.ep.text;
      const needed =
        words && !isBackchannel(words) ? this.cfg.bargeInSpeechMs : this.cfg.bargeInSpeechMs + NO_WORDS_EXTRA_MS;
      if (sustained >= needed) this.checkBargeIn('vad');
    }
  }

  /** A DTMF tone started on the line: the speech run it looked like is forgotten. */
  tone(): void {
    const wasSpeaking = this.gate.speaking;
    this.gate.cancelRun();
    if (wasSpeaking && !this.ep.text) this.ep.reset();
  }

  asrPartial(text: string): void {
    this.ep.asrPartial(text);
    this.afterWords();
  }

  asrFinal(text: string, speechFinal: boolean, now: number): void {
    this.ep.asrFinal(text, speechFinal, now);
    this.afterWords();
  }

  utteranceEnd(now: number): void {
    this.ep.utteranceEnd(now);
  }

  /** The endpointing deadline has come. */
  tick(now: number): void {
    const c = this.ep.tick(now);
    if (c) this.commit(c);
  }

  /** The session cut the agent off for this caller speech: the speech goes on as the caller's turn. */
  bargedIn(now: number, takenBack: string | undefined): void {
    if (takenBack) this.ep.restore(takenBack);
    this.phase = 'quiet';
    this.ep.speechStarted();
    if (!this.gate.speaking) this.ep.speechEnded(now);
  }

  /** Forget the turn in progress (DTMF took over, a commit was taken). */
  reset(): void {
    this.ep.reset();
  }

  /* ---------------------------------------------------------------- what the session reads */

  /** When tick() must run next (session clock, ms). */
  get deadline(): number | undefined {
    return this.ep.deadline;
  }

  /** The words of the turn in progress. */
  get text(): string {
    return this.ep.text;
  }

  get speaking(): boolean {
    return this.gate.speaking;
  }

  get hasPendingTurn(): boolean {
    return this.ep.hasPendingTurn;
  }

  /* ---------------------------------------------------------------- policy */

  private speechStart(at: number): void {
    // Speech that starts while the agent talks is a backchannel unless it grows into a barge-in.
    this.overlap = this.phase === 'speaking';
    this.ep.speechStarted();
    this.decide({ type: 'speech_start', atMs: at, overlap: this.overlap });
  }

  /** Words arrived: they may barge in (agent speaking). */
  private afterWords(): void {
    const text = this.ep.text;
    if (!text) return;
    // Words cut the agent off only while the VAD hears the caller now and for long enough: a late final of
    // something said earlier (a slow recognizer) is not an interruption.
    if (
      this.cfg.interruptible &&
      this.phase !== 'quiet' &&
      this.gate.speaking &&
      !isBackchannel(text) &&
      this.gate.voicedSince(this.agentSince) >= this.cfg.bargeInSpeechMs
    ) {
      this.checkBargeIn('asr');
    }
  }

  /**
   * Barge-in: caller speech while the agent speaks (or is about to) cancels the reply. Sustained VAD speech alone
   * is enough unless the words heard so far are only a backchannel ("uh-huh", "okay"); short blips never reach the
   * sustain time, so noise and clicks do not cut the agent off.
   */
  private checkBargeIn(by: 'vad' | 'asr'): void {
    if (this.holding || this.phase === 'quiet') return;
    const words = this.ep.text;
    if (words && isBackchannel(words)) return;
    if (!this.gate.speaking) return;
    this.overlap = false;
    this.decide({ type: 'barge_in', by });
  }

  private commit(c: TurnCommit): void {
    const overlap = this.overlap || this.phase === 'speaking';
    this.overlap = false;
    this.decide({ type: 'commit', turn: c, overlap });
  }
}
