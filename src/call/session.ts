import { performance } from 'node:perf_hooks';
import type { Assistant, AssistantConfig } from '../assistant.js';
import { type CallFiles, localCallFiles } from '../call-files.js';
import type { LlmProvider } from '../providers/types.js';
import type { DtmfSource, MediaLeg, MediaLegHandler } from '../telephony/leg.js';
import { AgentVoice } from './agent-voice.js';
import { type CallState, CallStates } from './call-state.js';
import { CallToolbox } from './call-tools.js';
import { CallerInput } from './caller-input.js';
import { CallerTurns } from './caller-turns.js';
import { Conversation } from './conversation.js';
import type { CallEventType, CallSummary, Incident, ProviderHooks, SessionDeps } from './deps.js';
import { DtmfInput } from './dtmf-input.js';
import { CallEnding, type CallOutcome } from './ending.js';
import { callVariables } from './greeting.js';
import { LiveConfig } from './live-config.js';
import { type MenuHost, runMenuAction } from './menu.js';
import { epochMarks, type TurnMarks, turnMetrics } from './metrics.js';
import { PHRASES } from './phrases.js';
import { callRecorder, type StereoCallRecorder } from './recorder.js';
import { prepareReply, type ReplyHost, runReply } from './reply.js';
import { closeCall } from './session-end.js';
import type { Utterance } from './speech.js';
import { CallTimers } from './timers.js';
import { TurnTaking, turnTakingConfig } from './turn-taking.js';
import { VoicemailScreen } from './voicemail.js';
import { WireRecorder } from './wire-recorder.js';
import { containsPhrase } from './words.js';

/**
 * The conversation loop for one call: the state machine of call-state.ts, driven by units that each own their
 * state and talk to it by calls and events:
 *   CallerInput (ASR stream, VAD, DTMF tone masking) -> TurnTaking (VAD gate, endpointing, interruption policy:
 *   pure decisions) -> the session -> runReply (LLM, tools) -> AgentVoice / Utterance (TTS -> leg).
 *   Conversation owns history, transcript and truncation; CallEnding the hangup / transfer / end of the call;
 *   CallTimers the silence and max-duration timers; CallToolbox the tools; closeCall the record.
 * Per 20 ms frame: the recorder copy, the VAD and the ASR write; no allocation beyond the ASR's own, no logging.
 */
export type { CallState, StateTransition } from './call-state.js';

export interface CallSessionOptions {
  leg: MediaLeg;
  assistant: Assistant;
  deps: SessionDeps;
  /** Variables for {{var}} in the first message (call metadata); custom parameters, from and to are added. */
  variables?: Record<string, string>;
  /** A call we dialed (voicemail detection applies: settings.voicemail). */
  outbound?: boolean;
}

export class CallSession implements MediaLegHandler {
  readonly callId: string;
  readonly assistantId: string;
  /** Recording and wire log, named by our call id (never the carrier's). */
  private readonly files: CallFiles;
  /** Resolves with the summary once the call has ended and the post-call work is done. */
  readonly done: Promise<CallSummary>;
  private readonly leg: MediaLeg;
  private readonly deps: SessionDeps;
  private readonly now: () => number;
  private readonly t0: number;
  private readonly startedAtIso: string;
  private readonly variables: Record<string, string>;
  private readonly hooks: ProviderHooks;
  private readonly conversation: Conversation;
  private readonly input: CallerInput;
  private readonly turns: TurnTaking;
  private readonly dtmf: DtmfInput;
  private readonly timers: CallTimers;
  private readonly recorder: StereoCallRecorder | undefined;
  private readonly voice: AgentVoice;
  private readonly ending: CallEnding;
  private readonly states: CallStates;
  private readonly toolbox: CallToolbox;
  private readonly live: LiveConfig;
  /* Set by start(), swapped between turns by live config. */
  private assistant: Assistant;
  private config: AssistantConfig;
  private llm!: LlmProvider;
  private currentTurn: TurnMarks | undefined;
  private wire: WireRecorder | undefined;
  private readonly caller: CallerTurns;
  private readonly screen: VoicemailScreen | undefined; // voicemail detection, when it applies
  private faults = 0;
  private resolveDone!: (s: CallSummary) => void;

  constructor(opts: CallSessionOptions) {
    this.leg = opts.leg;
    this.deps = opts.deps;
    this.assistant = opts.assistant;
    this.config = opts.assistant.config;
    this.callId = opts.leg.info.callId;
    this.assistantId = opts.assistant.id;
    this.now = opts.deps.now ?? (() => performance.now());
    this.t0 = this.now();
    this.startedAtIso = new Date().toISOString();
    const info = opts.leg.info;
    this.variables = callVariables(info, opts.variables);
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
    this.hooks = { onIncident: (i) => this.incident(i) };
    this.states = new CallStates(this.deps.sink, () => this.elapsedMs);
    this.live = new LiveConfig(this.deps.loadAssistant, this.deps.logger, this.callId, (a) => this.applyAssistant(a));
    this.toolbox = new CallToolbox(this.deps, this.leg, {
      endCall: (reason) => this.ending.requestHangup(reason, 'end_call'),
      transfer: (target, mode, summary) => this.ending.requestTransfer(target, mode, summary, 'transfer_call'),
      say: (text, hold) => this.voice.interject(text, hold),
    });
    this.conversation = new Conversation(() => this.elapsedMs, {
      onTranscript: (e, extra) => {
        this.deps.sink.event('transcript', { ...e, ...extra });
        if (!extra) this.leg.sendEvent({ type: 'transcript', role: e.role, text: e.text, final: true, turn: e.turn });
      },
    });
    this.turns = new TurnTaking(turnTakingConfig(this.config.settings), (d) => this.caller.onDecision(d));
    this.input = new CallerInput(this.leg, this.deps, this.hooks, this.config.dtmf?.enabled !== false, {
      onVoice: (at, ms, p) => (this.screen?.screening ? this.screen.voice(p) : this.turns.frame(at, ms, p)),
      onTone: () => this.turns.tone(),
      onAsr: (ev) => (this.screen?.screening ? this.screen.asr(ev) : this.caller.onAsr(ev)),
      onAsrFailed: (n) => n === 2 && this.sayAside(PHRASES.cantHear, 'asr_failed'),
      onAsrOpen: (c) => this.turns.recognizer(c),
      onVadOpen: (v) => this.turns.detector(v),
      incident: (i) => this.incident(i),
    });
    this.timers = new CallTimers(this.config.settings, {
      onReprompt: () => {
        if (this.states.state === 'listening' && !this.ending.ending)
          this.sayAside(PHRASES.reprompt, 'silence_reprompt');
      },
      onSilenceTimeout: () => {
        if (this.states.state === 'listening') this.bg(this.ending.end('silence_timeout', PHRASES.silenceGoodbye));
      },
      onMaxDuration: () => this.bg(this.ending.end('max_duration', PHRASES.maxDuration)),
    });
    this.dtmf = new DtmfInput(this.config.dtmf, {
      onMenu: (d, a) => {
        this.caller.digits.push(d);
        this.caller.interruptForInput();
        this.bg(runMenuAction(this.menuHost(), d, a));
      },
      onDigits: (d, reason) => this.caller.onDigits(d, reason),
    });
    this.recorder = callRecorder(this.config, info.inboundFormat.sampleRate);
    // Streamed as the call goes: bounded memory, and a crash leaves a readable recording.
    this.files = opts.deps.files ?? localCallFiles(opts.deps.dataDir);
    this.recorder?.stream(this.files.recording);
    this.voice = new AgentVoice(this.leg, this.conversation, this.recorder, this.now, {
      onFirstAudio: () => {
        if (this.states.state === 'thinking') this.setState('agent_speaking', 'first_audio');
      },
      onChange: () => this.syncAgent(),
      onTtsError: (provider, code, message) =>
        this.incident({ kind: 'tts', provider, code, action: 'failed', message }),
      callerSpeaking: () => this.turns.speaking,
    });
    this.ending = new CallEnding({
      leg: this.leg,
      deps: this.deps,
      elapsedMs: () => this.elapsedMs,
      transferring: (mode) => this.setState('transferring', mode),
      stopInteraction: () => {
        this.turns.reset();
        this.caller.scheduleTurnTick();
        this.dtmf.close();
        this.timers.disarmSilence();
        this.voice.cut(true);
      },
      voice: this.voice,
      conversation: this.conversation,
      speaking: (reason) => this.setState('agent_speaking', reason),
      onChange: () => {
        if (this.ending.ending) this.input.markEnding();
        this.syncAgent();
      },
      close: (outcome) => this.close(outcome),
      redirectTarget: () => this.config.hangup?.redirect,
    });
    this.caller = new CallerTurns({
      states: this.states,
      voice: this.voice,
      conversation: this.conversation,
      turns: this.turns,
      input: this.input,
      timers: this.timers,
      ending: this.ending,
      dtmf: this.dtmf,
      deps: this.deps,
      now: this.now,
      t0: this.t0,
      settings: () => this.config.settings,
      sayAside: (text, reason) => this.sayAside(text, reason),
      setState: (state, reason) => this.setState(state, reason),
      userTurn: (text, marks) => this.bg(this.userTurn(text, marks)),
      currentTurnMarks: () => this.currentTurn,
      prepareReply: (text) => prepareReply(this.replyHost(), text),
    });
    const vm = { deps: this.deps, assistantId: this.assistant.id, variables: this.variables };
    const end = (...a: Parameters<CallEnding['end']>) => this.bg(this.ending.end(...a));
    this.screen = VoicemailScreen.for(this.config, info, opts.outbound === true, vm, () => this.begin(), end);
    this.leg.setHandler(this);
    // Opt-in exact wire recording; without it the leg drops its backlog of early messages at once.
    this.leg.setWireTap?.(this.config.settings?.recordWire === true ? (d, t) => this.recordWire(d, t) : undefined);
  }

  get state(): CallState {
    return this.states.state;
  }

  /** The conversation as the LLM sees it (system prompt excluded), and the transcript. */
  get history() {
    return this.conversation.history;
  }

  get transcript() {
    return this.conversation.transcript;
  }

  get elapsedMs(): number {
    return this.now() - this.t0;
  }

  /** Background work (turns, timers, hang-up): a failure is logged and recorded, never an unhandled rejection. */
  private bg(p: Promise<unknown>): void {
    p.catch((err: unknown) => this.fault(err));
  }

  private fault(err: unknown): void {
    if (++this.faults > 3) return;
    this.deps.logger.error({ err, callId: this.callId, state: this.states.state }, 'call session error');
    const message = (err as Error)?.message ?? String(err);
    this.deps.sink.event('incident', { kind: 'session', message, atMs: Math.round(this.elapsedMs) });
  }

  /** Warm the providers, start the greeting. Never throws: a failure ends the call with a recorded reason. */
  async start(): Promise<void> {
    const { deps } = this;
    deps.sink.update({ status: 'in-progress', startedAt: this.startedAtIso });
    try {
      this.llm = deps.providers.llm(this.config.llm, this.hooks);
      this.voice.use(deps.providers.tts(this.config.tts, this.hooks), this.config);
    } catch (err) {
      this.incident({ kind: 'llm', provider: 'registry', message: (err as Error).message });
      await this.ending.end('provider_unavailable');
      return;
    }
    this.timers.start();
    // ASR, VAD and tools come up in parallel with the greeting: the caller hears it without waiting for them.
    this.bg(this.input.openAsr(this.config));
    this.bg(this.input.openVad(this.config.settings));
    this.toolbox.open(this.config);
    this.screen ? this.screen.start() : this.begin();
  }

  /** The conversation starts: the first message, or listening (after voicemail screening, when it runs). */
  private begin(): void {
    const first = this.config.firstMessage?.trim();
    if (first) {
      this.setState('greeting', 'first_message');
      this.bg(this.finishTurn(this.voice.firstMessage(first, this.variables, this.assistant.id).u, undefined));
    } else {
      this.setState('listening', 'wait_for_caller');
      this.timers.armSilence();
    }
  }

  /* ------------------------------------------------------------------ state */

  private setState(state: CallState, reason?: string): void {
    if (!this.states.go(state, reason)) return;
    if (state !== 'listening') this.timers.disarmSilence();
    this.syncAgent();
  }

  private syncAgent(): void {
    // Units call back while the session is still being built: nothing to tell yet.
    this.caller?.syncAgent();
  }

  /** The assistant changed (a runtime PATCH, src/engine.ts): a newer version applies at once (LiveConfig). */
  assistantChanged(): Promise<void> {
    return this.live.check(() => this.assistant.version);
  }
  /** Hang up on a request from outside the call (the control API, on whichever engine received it). */
  hangupBy = (by: string, reason: string): Promise<void> => this.ending.hangupBy(by, reason);

  private applyAssistant(a: Assistant): void {
    if (this.ending.finalized) return;
    this.assistant = a;
    this.config = a.config;
    this.applySettings();
    this.llm = this.deps.providers.llm(this.config.llm, this.hooks);
    this.voice.use(this.deps.providers.tts(this.config.tts, this.hooks), this.config);
  }

  private applySettings(): void {
    this.turns.setConfig(turnTakingConfig(this.config.settings));
    this.dtmf.setConfig(this.config.dtmf);
    this.timers.setSettings(this.config.settings);
  }

  /* ------------------------------------------------------------------ providers */

  /** A provider retry / fallback / failure (from the registry's resilience wrapper, or seen here). */
  private incident(
    i: Incident | { kind: string; provider: string; code?: string; message: string; action?: string },
  ): void {
    const { kind, provider, code, action, message } = i;
    const at = { turn: this.conversation.turn, atMs: Math.round(this.elapsedMs) };
    this.deps.sink.event('incident', { kind, provider, code, action, message, ...at });
  }

  /* ------------------------------------------------------------------ MediaLeg handler */

  onAudio(pcm: Int16Array, wire: Uint8Array): void {
    if (this.ending.finalized) return;
    try {
      this.recorder?.callerFrame(pcm);
      this.input.frame(pcm, wire, this.now());
      this.screen?.frame(pcm);
      this.caller.scheduleTurnTick();
    } catch (err) {
      // Bad input or a bug must not take the gateway (or the process) down: counted and logged a few times.
      this.fault(err);
    }
  }

  onDtmf(digit: string, source: DtmfSource, durationMs?: number): void {
    if (this.ending.ending) return;
    try {
      this.caller.onKey(digit, source, durationMs, this.elapsedMs);
    } catch (err) {
      this.fault(err);
    }
  }

  onMark(name: string, played: boolean): void {
    this.voice.onMark(name, played);
  }

  onPlaybackIdle(): void {
    this.voice.onPlaybackIdle();
  }

  onStop(reason: string): void {
    this.bg(this.ending.finalize(reason === 'stop' || !reason ? 'caller_hangup' : reason));
  }

  /* ------------------------------------------------------------------ caller speech */

  private menuHost(): MenuHost {
    return {
      conversation: this.conversation,
      event: (type: CallEventType, data: Record<string, unknown>) => this.deps.sink.event(type, data),
      end: (reason: string, goodbye?: string) => this.ending.end(reason, goodbye),
      transfer: (target: string) => this.ending.requestTransfer(target, 'cold', undefined, 'dtmf_menu'),
      speak: (text: string | undefined) => this.speakAndAct(text),
      callTools: () => this.toolbox.get(),
      toolContext: (signal: AbortSignal) => this.toolbox.context(signal, this.config),
      recordTool: (name: string, ok: boolean) => this.toolbox.record(name, ok),
    };
  }

  /* ------------------------------------------------------------------ turns and replies */

  private async userTurn(text: string, marks: Omit<TurnMarks, 'turn'>): Promise<void> {
    if (this.ending.ending) return;
    // Live config (DESIGN.md 9): a change whose notification did not reach this engine is found by the version.
    void this.live.check(() => this.assistant.version);
    this.timers.callerResponded();
    this.conversation.userTurn(text);
    const end = containsPhrase(text, this.config.hangup?.endPhrases);
    if (end) {
      this.bg(this.ending.end('end_phrase', this.config.hangup?.goodbyeMessage ?? PHRASES.goodbye));
      return;
    }
    const tm: TurnMarks = { turn: this.conversation.turn, ...marks };
    this.currentTurn = tm;
    await runReply(this.replyHost(), tm);
  }

  private replyHost(): ReplyHost {
    return {
      conversation: this.conversation,
      config: this.config,
      llm: this.llm,
      retriever: this.deps.retriever,
      now: this.now,
      event: (type, data) => this.deps.sink.event(type, data),
      thinking: () => this.setState('thinking', 'turn_committed'),
      fillerStarted: () => this.states.state === 'thinking' && this.setState('agent_speaking', 'filler'),
      newUtterance: () => this.voice.start('r', true),
      callTools: () => this.toolbox.get(),
      toolContext: (signal) => this.toolbox.context(signal, this.config),
      hasPendingAction: () => this.ending.hasPending,
      recordTool: (name, ok) => this.toolbox.record(name, ok),
      finishTurn: (u, tm) => this.finishTurn(u, tm),
      takeDraft: (text, llm) => this.caller.takeDraft(text, llm),
    };
  }

  /** The reply of this turn is over (heard, interrupted or failed): emit metrics, go back to listening. */
  private async finishTurn(u: Utterance, tm: TurnMarks | undefined): Promise<void> {
    if (tm) {
      Object.assign(tm, u.timings);
      if (u.cancelled && u.truncation) tm.truncation = u.truncation;
      const m = turnMetrics(tm);
      this.deps.sink.event('turn', { ...m, marks: epochMarks(tm, this.now()) });
      this.leg.sendEvent({ type: 'event', name: 'turn.metrics', data: { ...m } });
      if (this.currentTurn === tm) this.currentTurn = undefined;
    }
    await u.finished;
    this.voice.finished(u);
    if (u.cancelled) return;
    await this.afterUtterance();
  }

  /** After an utterance played out: carry out a pending hangup / transfer, a queued turn, or listen. */
  private async afterUtterance(): Promise<void> {
    if (this.ending.finalized || this.voice.current) return;
    if ((await this.ending.runPending()) || this.ending.ending) return;
    if (this.caller.takeHeld()) return;
    if (this.turns.hasPendingTurn) {
      this.setState('user_speaking', 'caller_talking');
      return;
    }
    this.setState('listening', 'reply_done');
    this.timers.armSilence();
  }

  /** Speak a fixed text as an assistant turn (menu reply), then do what is pending. */
  private speakAndAct(text: string | undefined, kind = 'say'): void {
    if (text) this.speak(kind, text, true, kind);
    else this.bg(this.afterUtterance());
  }

  /** Something the agent says outside the conversation (reprompt, apology): not sent to the LLM as history. */
  private sayAside(text: string, reason: string): void {
    if (!this.ending.ending && !this.voice.talking) this.speak('aside', text, false, reason);
  }

  private speak(kind: string, text: string, history: boolean, reason: string): void {
    const { u } = this.voice.say(kind, text, history);
    this.setState('agent_speaking', reason);
    this.bg(this.finishTurn(u, undefined));
  }

  /* ------------------------------------------------------------------ tools and call control */

  /** Stop everything live, write the record, run the post-call work (the ending decided the outcome). */
  private async close(outcome: CallOutcome): Promise<void> {
    this.setState('ended', outcome.endReason);
    this.caller.close();
    this.timers.close();
    this.turns.reset();
    this.caller.scheduleTurnTick();
    this.dtmf.close();
    this.voice.close();
    this.input.close();
    this.toolbox.close();
    const result = await closeCall({
      deps: this.deps,
      llm: this.llm,
      config: this.config,
      recorder: this.recorder,
      wire: this.wire,
      recordingFile: this.files.recording,
      summary: {
        callId: this.callId,
        assistantId: this.assistant.id,
        protocol: this.leg.info.protocol,
        startedAt: this.startedAtIso,
        durationMs: Math.round(this.elapsedMs),
        ...outcome,
        transcript: [...this.conversation.transcript],
        turns: this.conversation.turn,
        bargeIns: this.caller.bargeIns,
        falseInterruptions: this.caller.falseInterruptions,
        unintelligible: this.caller.unintelligible,
        digits: this.caller.digits,
        toolCalls: this.toolbox.calls,
        ...this.screen?.result,
      },
    });
    this.resolveDone(result);
  }

  /**
   * One raw inbound wire message (text or binary) with its arrival time (ms, performance.now()), for the opt-in
   * wire recording (settings.recordWire). The gateway calls it for every message of the call, including those it
   * received before the session existed (connected / start). A no-op unless the assistant records wire.
   */
  recordWire(data: string | Uint8Array, atMs: number): void {
    if (this.config.settings?.recordWire !== true || this.ending.finalized) return;
    this.wire ??= new WireRecorder(this.files.wire, this.callId, this.leg.info.protocol, this.config);
    this.wire.record(data, atMs);
  }
}
