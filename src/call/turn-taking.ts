import { isAcknowledgement, realWords } from './acknowledgement.js';
import { worthPreparing } from './preemptive.js';
import {
  type AgentPhase,
  NO_WORDS_EXTRA_MS,
  PAUSED_NO_WORDS_MS,
  SPEECH_HANGOVER_MS,
  type TurnDecision,
  type TurnTakingConfig,
  UNINTELLIGIBLE_MIN_MS,
  WORDS_SPEECH_MARGIN_MS,
} from './turn-policy.js';
import { Endpointer, type TurnCommit } from './turns.js';
import { SpeechGate } from './vad.js';
import { asksForNumber, completeness, sameWords } from './words.js';

/**
 * Turn-taking for one call: voice activity (SpeechGate), endpointing (Endpointer) and the interruption policy, as
 * one unit with a pure decision API. Inputs carry their own time (session clock, ms): inbound frames with the VAD's
 * speech probability, ASR words, what the agent is doing, and tick() at `deadline`. Outputs are decisions handed to
 * `decide`, in order; the unit has no timers, reads no clock, does no I/O, so tests drive it frame by frame.
 *
 *   caller speech confirmed (VAD onset) over the speaking agent ──▶ pause      (no ASR needed: audio stops now)
 *     words that are not an acknowledgement (>= minWords), or speech that lasts ──▶ barge_in   (takes the turn)
 *     speech ended short with no such words, nothing more within falseTimeoutMs ──▶ resume    (or stop, if off)
 *   speech while the agent prepares a reply (nothing heard yet) ──▶ barge_in   (the caller went on: take it back)
 *   end of turn (endpointing) ──▶ commit (`overlap` when said over the agent)
 *   a pause with real speech and no words at all, the agent silent ──▶ unintelligible   (reprompt, never silence)
 *   a caller who talks on past maxUtteranceMs ──▶ commit of what was heard so far   (bounded turns)
 *   the caller quiet, words that do not trail off, a commit pending (or the recognizer's eager end of turn)
 *     ──▶ prepare   (preemptive generation: a reply is prepared on these words, not spoken; with a recognizer that
 *                    sends eager ends of turn (Flux), on those alone)
 *   the caller goes on (speech, or the recognizer's turn_resumed), or the words start to trail off ──▶ discard
 * Endpointing (turns.ts) waits for words that cover the caller's last speech run (a recognizer without interims),
 * and longer for an unpunctuated answer to a question for a number; acknowledgement.ts judges what is said over
 * the agent (words, their number, the recognizer's confidence, voiced duration).
 */
export {
  type AgentPhase,
  finalizeHoldMs,
  NO_WORDS_EXTRA_MS,
  PAUSED_NO_WORDS_MS,
  SPEECH_HANGOVER_MS,
  type TurnDecision,
  type TurnTakingConfig,
  turnTakingConfig,
  UNINTELLIGIBLE_MIN_MS,
  WORDS_SPEECH_MARGIN_MS,
} from './turn-policy.js';

/** Speech runs remembered for matching words to speech (the recognizer lags the audio by a few runs at most). */
const RUNS_KEPT = 16;

export class TurnTaking {
  private readonly gate: SpeechGate;
  private readonly ep: Endpointer;
  private cfg: TurnTakingConfig;
  private readonly decide: (d: TurnDecision) => void;
  private phase: AgentPhase = 'quiet';
  /** Session clock when the agent's utterance began: caller speech counts toward a barge-in only from here. */
  private agentSince = 0;
  /** The agent may not be cut off now (uninterruptible speech, a pending hangup or transfer, the call ending). */
  private holding = false;
  /** The caller's current speech began while the agent was talking and has not barged in. */
  private overlap = false;
  /** The agent is paused for caller speech; the decision is pending. */
  private paused = false;
  /** When a pause with no words resumes (session clock), once the caller's speech has ended. */
  private resumeAt: number | undefined;
  /** Voiced caller speech in the turn in progress, ms (speech runs that ended). */
  private voicedMs = 0;
  /** Audio time the turn in progress started (for maxUtteranceMs). */
  private turnStart = -1;
  /** The words a reply is being prepared on (preemptive generation), until the commit or a discard. */
  private prepared: string | undefined;
  /** The recognizer streams interim words: speech that lasts without any word is noise (music, a TV). */
  private interimWords = false;
  /** The speech run in progress was judged noise: it pauses and interrupts nothing more (words still do). */
  private noiseRun = false;
  /** A run was judged noise in this call: from then on only words interrupt the agent. */
  private noisyLine = false;
  /** The recognizer decides the end of the turn (Flux EndOfTurn). */
  private modelTurns = false;
  /** It also says when the turn is probably over (Flux EagerEndOfTurn): replies are prepared on that alone. */
  private eagerTurns = false;
  /** The speech run in progress was committed by the recognizer's end of turn (the VAD is in its hangover). */
  private runCommitted = false;
  /** The last overlap's pause resumed: its words, if they come now, come late. */
  private resumed = false;
  /** Voice the streaming recognizer gave no words for, since the last words, ms (runs that ended). */
  private wordlessMs = 0;
  /** The VAD rejects music and noise: words timed outside every speech run are the recognizer's, not a caller's. */
  private vadRejectsNoise = false;
  /** The last RUNS_KEPT speech runs (session clock): start and end of run i at [2i, 2i+1]; ring. */
  private readonly runs = new Float64Array(RUNS_KEPT * 2).fill(Number.NaN);
  private runsPos = 0;
  /** Finals dropped as noise: timed where the VAD heard no speech (music, a TV under the line). */
  noiseWords = 0;

  constructor(cfg: TurnTakingConfig, decide: (d: TurnDecision) => void) {
    this.cfg = cfg;
    this.decide = decide;
    this.ep = new Endpointer(cfg.endpointing);
    this.gate = new SpeechGate(
      { threshold: 0.5, onsetMs: 60, hangoverMs: SPEECH_HANGOVER_MS },
      {
        onSpeechStart: (at) => this.speechStart(at),
        onSpeechEnd: (at, ms) => this.speechEnd(at, ms),
      },
    );
  }

  setConfig(cfg: TurnTakingConfig): void {
    this.cfg = cfg;
    this.ep.setConfig(cfg.endpointing);
    if (!cfg.preemptive) this.discard();
  }

  /* ---------------------------------------------------------------- what the session tells it */

  /** What the agent is doing: quiet (listening), thinking (reply in preparation) or speaking; `sinceMs` its start. */
  agent(phase: AgentPhase, sinceMs: number): void {
    if (phase !== 'speaking' && this.paused) {
      // The paused utterance is gone (finished, cut, replaced): nothing to resume.
      this.paused = false;
      this.resumeAt = undefined;
    }
    this.phase = phase;
    this.agentSince = sinceMs;
  }

  /** What the agent said last (its whole utterance): a question for a number makes endpointing wait for groups. */
  agentSaid(text: string): void {
    this.ep.numberExpected(asksForNumber(text));
  }

  /**
   * What the recognizer does (its capabilities): whether words are expected while the caller speaks, and whether
   * it decides the end of the turn itself (Flux EndOfTurn: its speech-final final commits at once).
   */
  recognizer(c: { interim?: boolean; endOfTurn?: boolean; eagerEndOfTurn?: boolean }): void {
    this.interimWords = c.interim === true;
    this.modelTurns = c.endOfTurn === true;
    this.eagerTurns = this.modelTurns && c.eagerEndOfTurn === true;
    this.ep.interimWords(this.interimWords);
  }

  /**
   * What the voice detector is: one that rejects music and noise makes words outside its speech runs noise; its
   * end-of-speech lag is taken off the speech ends the endpointing counts from.
   */
  detector(d: { rejectsNoise: boolean; endLagMs?: number }): void {
    this.vadRejectsNoise = d.rejectsNoise;
    this.gate.setEndLag(d.endLagMs ?? 0);
  }

  /** The agent keeps the floor whatever the caller does (uninterruptible speech, pending hangup, call ending). */
  hold(on: boolean): void {
    this.holding = on;
  }

  /** One inbound frame starting at `atMs`, `frameMs` long, with speech probability `p`. */
  frame(atMs: number, frameMs: number, p: number): void {
    this.gate.push(atMs, frameMs, p);
    if (!this.gate.speaking) return;
    if (this.paused || (this.phase !== 'quiet' && this.canInterrupt() && !this.noiseRun && !this.noisyLine)) {
      // Without words, only speech that lasts makes an interruption real.
      const sustained = this.gate.voicedSince(this.agentSince);
      const noWords = this.cfg.bargeInSpeechMs + NO_WORDS_EXTRA_MS;
      if (sustained >= (this.paused ? Math.max(noWords, PAUSED_NO_WORDS_MS) : noWords)) {
        // A recognizer that streams words gave none for all that speech: noise (music on hold, a TV), not a caller.
        if (this.interimWords && !this.ep.text) this.noise();
        else this.bargeIn('vad');
      } else if (sustained >= this.cfg.bargeInSpeechMs && this.wordsInterrupt()) this.bargeIn('asr');
    }
    // A caller who never pauses: cut into turns at maxUtteranceMs.
    if (this.turnStart >= 0 && atMs + frameMs - this.turnStart >= this.cfg.maxUtteranceMs) {
      const c = this.ep.force(atMs + frameMs);
      this.turnStart = atMs + frameMs;
      this.voicedMs = 0;
      if (c) this.commit(c, true);
    }
  }

  /** A DTMF tone started on the line: the speech run it looked like is forgotten. */
  tone(): void {
    const wasSpeaking = this.gate.speaking;
    this.gate.cancelRun();
    if (wasSpeaking && !this.ep.text) this.ep.reset();
    if (this.paused) this.endPause(this.resumeOrStop());
  }

  asrPartial(text: string): void {
    this.ep.asrPartial(text);
    this.afterWords();
    this.prepare();
  }

  /**
   * A final transcript; `wordsEndAt` / `wordsStartAt`: where its last word ends and its first starts in the caller's
   * audio (session clock), and the recognizer's `confidence` (0..1), when it gives them.
   */
  asrFinal(
    text: string,
    speechFinal: boolean,
    now: number,
    wordsEndAt?: number,
    confidence?: number,
    wordsStartAt?: number,
  ): void {
    if (
      text.trim() &&
      wordsStartAt !== undefined &&
      wordsEndAt !== undefined &&
      this.noiseWordsAt(wordsStartAt, wordsEndAt)
    ) {
      // Words made of music or noise (the VAD, which rejects them, heard no speech there): not a caller's words. The
      // recognizer's partial, if any, goes with them.
      this.noiseWords++;
      this.ep.asrFinal('', speechFinal, now);
      return;
    }
    this.ep.asrFinal(text, speechFinal, now, wordsEndAt, confidence);
    // The recognizer's end of turn commits now, the VAD's hangover and the endpointing delay not waited for; over a
    // paused agent the interruption policy decides first. The commit keeps the overlap and hold rules (session).
    const modelEnd = speechFinal && this.modelTurns;
    const paused = this.paused;
    if (modelEnd && !paused && this.ep.endOfTurn(now)) this.runCommitted = this.gate.speaking;
    this.afterWords();
    // Its words made the pause a barge-in (the agent cut, the turn the caller's): the recognizer's end still holds.
    if (modelEnd && paused && !this.paused && this.phase === 'quiet' && this.ep.endOfTurn(now))
      this.runCommitted = this.gate.speaking;
    this.prepare();
  }

  utteranceEnd(now: number): void {
    this.ep.utteranceEnd(now);
    this.prepare();
  }

  /** The recognizer thinks the turn is probably over (Flux EagerEndOfTurn): a reply is prepared on its words. */
  asrEagerEnd(text: string): void {
    if (this.cfg.preemptive && this.phase === 'quiet' && !this.paused && text.trim()) this.prepareOn(text.trim());
  }

  /** The recognizer heard the caller go on after an eager end of turn (Flux TurnResumed). */
  asrTurnResumed(): void {
    this.discard();
  }

  /** A deadline has come. */
  tick(now: number): void {
    if (this.resumeAt !== undefined && now >= this.resumeAt) {
      this.resumeAt = undefined;
      if (this.paused && !this.gate.speaking) this.endPause(this.resumeOrStop());
    }
    const c = this.ep.tick(now);
    if (c === 'nothing') {
      const voiced = this.voicedMs;
      // The pause ended with no words: its speech is done with (a reprompt when the agent is silent).
      if (!this.gate.speaking) this.voicedMs = 0;
      if (voiced >= UNINTELLIGIBLE_MIN_MS && this.phase === 'quiet') {
        this.reset();
        this.decide({ type: 'unintelligible', voicedMs: voiced });
      }
    } else if (c) this.commit(c, false);
  }

  /** The session cut the agent off for this caller speech: the speech goes on as the caller's turn. */
  bargedIn(now: number, takenBack: string | undefined): void {
    if (takenBack) this.ep.restore(takenBack);
    this.phase = 'quiet';
    this.paused = false;
    this.resumeAt = undefined;
    this.ep.speechStarted();
    if (!this.gate.speaking) this.ep.speechEnded(now);
  }

  /** Forget the turn in progress (DTMF took over, a commit was taken). */
  reset(): void {
    this.ep.reset();
    this.voicedMs = 0;
    this.turnStart = -1;
    this.discard();
  }

  /* ---------------------------------------------------------------- what the session reads */

  /** When tick() must run next (session clock, ms). */
  get deadline(): number | undefined {
    const a = this.ep.deadline;
    const b = this.resumeAt;
    return a === undefined ? b : b === undefined ? a : Math.min(a, b);
  }

  /** The words of the turn in progress. */
  get text(): string {
    return this.ep.text;
  }

  get speaking(): boolean {
    return this.gate.speaking;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  get hasPendingTurn(): boolean {
    return this.ep.hasPendingTurn;
  }

  /* ---------------------------------------------------------------- policy */

  /** Words timed [from, to] lie outside every speech run the VAD heard, and that VAD rejects music and noise. */
  private noiseWordsAt(from: number, to: number): boolean {
    if (!this.vadRejectsNoise) return false;
    const m = WORDS_SPEECH_MARGIN_MS;
    if (this.gate.speaking && to >= this.gate.runStartMs - m) return false;
    const r = this.runs;
    for (let i = 0; i < RUNS_KEPT; i++) {
      const s = r[2 * i]!;
      // NaN (no run yet) compares false.
      if (to >= s - m && from <= r[2 * i + 1]! + m) return false;
    }
    return true;
  }

  private canInterrupt(): boolean {
    return this.cfg.interruptible && !this.holding;
  }

  /** Sustained voice without words from a recognizer that streams them: the agent goes on (resumes). */
  private noise(): void {
    this.noiseRun = true;
    this.noisyLine = true;
    if (this.paused) this.endPause({ type: 'resume' });
  }

  private speechStart(at: number): void {
    this.noiseRun = false;
    this.runCommitted = false;
    this.resumed = false;
    // The caller goes on: a reply prepared on their words so far is dropped before any of it is heard.
    this.discard();
    // Speech that starts while the agent talks is an overlap (an acknowledgement?) unless it becomes an interruption.
    this.overlap = this.phase === 'speaking' || this.paused;
    if (this.turnStart < 0) this.turnStart = at;
    this.ep.speechStarted();
    this.decide({ type: 'speech_start', atMs: at, overlap: this.overlap });
    if (this.paused) {
      // The caller goes on within the window: keep waiting for words.
      this.resumeAt = undefined;
      return;
    }
    // On a line found noisy (music, a TV: voice without words), the voice detector alone no longer stops the
    // agent: words do (afterWords), as soon as the recognizer gives them.
    if (!this.canInterrupt() || this.noisyLine) return;
    if (this.phase === 'speaking') {
      // Confirmed speech over the agent: its audio stops now; words, duration and energy decide the rest.
      this.paused = true;
      // The overlap is measured on its own (its words and duration decide).
      this.voicedMs = 0;
      this.decide({ type: 'pause' });
    } else if (this.phase === 'thinking') {
      // Nothing heard yet and the caller goes on: the reply is taken back before any of it is heard.
      this.bargeIn('vad');
    }
  }

  private speechEnd(at: number, ms: number): void {
    this.runs[2 * this.runsPos] = at - ms;
    this.runs[2 * this.runsPos + 1] = at;
    this.runsPos = (this.runsPos + 1) % RUNS_KEPT;
    if (this.runCommitted) {
      // Its words were committed at the recognizer's end of turn: the tail of the run is not a new utterance.
      this.runCommitted = false;
      this.decide({ type: 'speech_end', atMs: at });
      return;
    }
    this.voicedMs += ms;
    // Voice without words, run after run (music on hold breaks into short runs): the line is noisy.
    this.wordlessMs = !this.interimWords || this.ep.text ? 0 : this.wordlessMs + ms;
    if (this.wordlessMs >= PAUSED_NO_WORDS_MS) this.noisyLine = true;
    this.ep.speechEnded(at);
    this.decide({ type: 'speech_end', atMs: at });
    this.prepare();
    if (!this.paused) return;
    if (this.wordsInterrupt()) {
      this.bargeIn('asr');
      return;
    }
    // Too short for a word (a click, a cough): resume at once; else wait a bounded time for the recognizer.
    if (ms < this.cfg.bargeInSpeechMs) this.endPause(this.resumeOrStop());
    else this.resumeAt = at + this.cfg.falseTimeoutMs;
  }

  /** Words arrived: they may make a pause (or the agent speaking) a real interruption. */
  private afterWords(): void {
    const text = this.ep.text;
    if (!text || this.phase === 'quiet' || !this.canInterrupt()) return;
    if (!this.wordsInterrupt()) return;
    // While paused, words decide at once (even a final that arrives after the caller stopped); otherwise only
    // while the caller speaks now and has for long enough (a late final of something said earlier is not one).
    if (this.paused || (this.gate.speaking && this.gate.voicedSince(this.agentSince) >= this.cfg.bargeInSpeechMs)) {
      this.bargeIn('asr');
    }
  }

  /** The words so far make an interruption real: enough of them, and not a (possibly misheard) acknowledgement. */
  private wordsInterrupt(): boolean {
    const text = this.ep.text;
    if (realWords(text) < this.cfg.minWords) return false;
    const voiced = this.voicedMs + (this.gate.speaking ? this.gate.voicedSince(this.agentSince) : 0);
    return !isAcknowledgement(text, voiced, { confidence: this.ep.confidence });
  }

  private resumeOrStop(): TurnDecision {
    return this.cfg.resumeAfterFalse ? { type: 'resume' } : { type: 'barge_in', by: 'vad', stop: true };
  }

  private endPause(d: TurnDecision): void {
    this.paused = false;
    this.resumeAt = undefined;
    // An acknowledgement: its words (if the recognizer is still on them) commit later, however late, with the
    // overlap's voiced length, so that the session judges them by duration too (a garbled "thank you").
    if (d.type === 'resume') this.resumed = true;
    this.decide(d);
  }

  private bargeIn(by: 'vad' | 'asr'): void {
    if (this.holding || this.phase === 'quiet') return;
    // Decided once: the agent is cut (the session confirms with agent()).
    this.phase = 'quiet';
    this.overlap = false;
    this.paused = false;
    this.resumeAt = undefined;
    this.decide({ type: 'barge_in', by });
  }

  /**
   * Preemptive generation: the caller is quiet, the agent is too, a commit is pending and the words do not trail
   * off: a reply is prepared on them (again when they change; dropped when they start to trail off).
   */
  private prepare(): void {
    if (!this.cfg.preemptive || this.phase !== 'quiet' || this.paused || !this.ep.awaitingCommit) return;
    // A recognizer that ends turns and says when one is probably over (Flux): its EagerEndOfTurn (asrEagerEnd) is
    // the better signal; a reply prepared on its running words at every pause would be an LLM request each.
    if (this.eagerTurns) return;
    const text = this.ep.text;
    if (worthPreparing(text, completeness(text), this.ep.interim)) this.prepareOn(text);
    // Words that trail off, or changed into an interim not worth a request: what was prepared is not the turn.
    else if (this.prepared === undefined || !sameWords(this.prepared, text)) this.discard();
  }

  private prepareOn(text: string): void {
    if (this.prepared !== undefined && sameWords(this.prepared, text)) return;
    this.prepared = text;
    this.decide({ type: 'prepare', text });
  }

  private discard(): void {
    if (this.prepared === undefined) return;
    this.prepared = undefined;
    this.decide({ type: 'discard' });
  }

  private commit(c: TurnCommit, forced: boolean): void {
    const overlap = this.overlap || this.phase === 'speaking';
    const voicedMs = this.voicedMs;
    this.overlap = false;
    // The session keeps the prepared reply if the committed words match it (else drops it).
    this.prepared = undefined;
    if (!forced) {
      this.voicedMs = 0;
      this.turnStart = -1;
    }
    const resumed = this.resumed && overlap;
    this.resumed = false;
    this.decide({
      type: 'commit',
      turn: c,
      overlap,
      voicedMs,
      ...(forced ? { forced } : {}),
      ...(resumed ? { resumed } : {}),
    });
  }
}
