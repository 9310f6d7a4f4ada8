import { performance } from 'node:perf_hooks';
import type { Assistant, AssistantConfig } from '../assistant.js';
import { type CallFiles, localCallFiles } from '../call-files.js';
import type { AsrEvent, LlmProvider, TtsProvider } from '../providers/types.js';
import { ProviderError } from '../providers/types.js';
import type { DtmfSource, MediaLeg, MediaLegHandler, TransferMode } from '../telephony/leg.js';
import type { CallTools, ToolContext } from '../tools/types.js';
import { CallerInput } from './caller-input.js';
import { type AgentReply, Conversation } from './conversation.js';
import type { CallEventType, CallSummary, Incident, ProviderHooks, SessionDeps } from './deps.js';
import { DtmfInput } from './dtmf-input.js';
import { fillVariables, getGreeting, greetingKey, hasVariables, putGreeting } from './greeting.js';
import { type MenuHost, runMenuAction } from './menu.js';
import { epochMarks, type TurnMarks, turnMetrics } from './metrics.js';
import { PHRASES } from './phrases.js';
import { StereoCallRecorder } from './recorder.js';
import { type ReplyHost, runReply } from './reply.js';
import { closeCall } from './session-end.js';
import { Utterance } from './speech.js';
import { CallTimers } from './timers.js';
import { type TurnDecision, TurnTaking, type TurnTakingConfig } from './turn-taking.js';
import type { TurnCommit } from './turns.js';
import { WireRecorder } from './wire-recorder.js';
import { containsPhrase, isBackchannel } from './words.js';

/**
 * The conversation loop for one call: one named-state machine.
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
 * The session composes units that each own their state and talk to it by calls and events:
 *   CallerInput (ASR stream, VAD, DTMF tone masking) -> TurnTaking (VAD gate, endpointing, interruption policy:
 *   pure decisions) -> the session (this state machine) -> runReply (LLM, tools) -> Utterance (TTS -> leg);
 *   Conversation owns history, transcript and truncation; CallTimers the silence / max-duration timers;
 *   closeCall (session-end.ts) the record and post-call work.
 * The work per 20 ms frame is the recorder copy, the VAD and the ASR write: no allocation beyond the ASR's own, no
 * timers, no logging.
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

export interface CallSessionOptions {
  leg: MediaLeg;
  assistant: Assistant;
  deps: SessionDeps;
  /** Variables for {{var}} in the first message (call metadata); custom parameters, from and to are added. */
  variables?: Record<string, string>;
}

type PendingAction =
  | { type: 'hangup'; reason: string; by: string }
  | { type: 'transfer'; target: string; mode: TransferMode; summary?: string; by: string };

/** The agent utterance in progress and its place in the conversation. */
interface Speaking {
  u: Utterance;
  r: AgentReply;
}

export class CallSession implements MediaLegHandler {
  readonly callId: string;
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
  private readonly transitions: StateTransition[] = [];
  private readonly turnMarks: TurnMarks[] = [];
  private readonly digits: string[] = [];
  private readonly toolCalls: { name: string; ok: boolean }[] = [];
  private callState: CallState = 'starting';
  /* Set by start(), swapped between turns by live config. */
  private assistant: Assistant;
  private config: AssistantConfig;
  private llm!: LlmProvider;
  private tts!: TtsProvider;
  private tools: CallTools | undefined;
  private toolsReady: Promise<void> | undefined;
  /** The agent utterance in progress (greeting, reply, reprompt...). */
  private current: Speaking | undefined;
  private currentTurn: TurnMarks | undefined;
  private uttSeq = 0;
  private pendingAction: PendingAction | undefined;
  private queuedCommit: TurnCommit | undefined;
  private pendingConfig: Assistant | undefined;
  private ending = false;
  private finalized = false;
  private endReason = '';
  private transferredTo: string | undefined;
  private endedBy = '';
  private wire: WireRecorder | undefined;
  private bargeIns = 0;
  private faults = 0;
  private turnTimer: NodeJS.Timeout | undefined;
  private turnTimerAt: number | undefined;
  private resolveDone!: (s: CallSummary) => void;

  constructor(opts: CallSessionOptions) {
    this.leg = opts.leg;
    this.deps = opts.deps;
    this.assistant = opts.assistant;
    this.config = opts.assistant.config;
    this.callId = opts.leg.info.callId;
    this.now = opts.deps.now ?? (() => performance.now());
    this.t0 = this.now();
    this.startedAtIso = new Date().toISOString();
    const info = opts.leg.info;
    this.variables = {
      ...info.customParameters,
      ...(info.from ? { from: info.from, caller: info.from } : {}),
      ...(info.to ? { to: info.to } : {}),
      callId: info.callId,
      ...opts.variables,
    };
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
    this.hooks = { onIncident: (i) => this.incident(i) };
    this.conversation = new Conversation(() => this.elapsedMs, {
      onTranscript: (e, extra) => {
        this.deps.sink.event('transcript', { ...e, ...extra });
        if (!extra) this.leg.sendEvent({ type: 'transcript', role: e.role, text: e.text, final: true, turn: e.turn });
      },
    });
    this.turns = new TurnTaking(this.turnConfig(), (d) => this.onDecision(d));
    this.input = new CallerInput(this.leg, this.deps, this.hooks, this.config.dtmf?.enabled !== false, {
      onVoice: (at, ms, p) => this.turns.frame(at, ms, p),
      onTone: () => this.turns.tone(),
      onAsr: (ev) => this.onAsr(ev),
      onAsrFailed: (n) => {
        // Tell the caller once; DTMF keeps working.
        if (n === 2) this.sayAside(PHRASES.cantHear, 'asr_failed');
      },
      incident: (i) => this.incident(i),
    });
    this.timers = new CallTimers(this.config.settings, {
      onReprompt: () => {
        if (this.callState === 'listening' && !this.ending) this.sayAside(PHRASES.reprompt, 'silence_reprompt');
      },
      onSilenceTimeout: () => {
        if (this.callState === 'listening') this.bg(this.end('silence_timeout', PHRASES.silenceGoodbye));
      },
      onMaxDuration: () => this.bg(this.end('max_duration', PHRASES.maxDuration)),
    });
    this.dtmf = new DtmfInput(this.config.dtmf, {
      onMenu: (d, a) => {
        this.digits.push(d);
        this.interruptForInput();
        this.bg(runMenuAction(this.menuHost(), d, a));
      },
      onDigits: (d, reason) => this.onDigits(d, reason),
    });
    this.recorder =
      this.config.settings?.recordAudio === false ? undefined : new StereoCallRecorder(info.inboundFormat.sampleRate);
    // Streamed as the call goes: bounded memory, and a crash leaves a readable recording.
    this.files = opts.deps.files ?? localCallFiles(opts.deps.dataDir);
    this.recorder?.stream(this.files.recording);
    this.leg.setHandler(this);
    // Opt-in exact wire recording; without it the leg drops its backlog of early messages at once.
    this.leg.setWireTap?.(this.config.settings?.recordWire === true ? (d, t) => this.recordWire(d, t) : undefined);
  }

  get state(): CallState {
    return this.callState;
  }

  /** The conversation as the LLM sees it (system prompt excluded). */
  get history() {
    return this.conversation.history;
  }

  get transcript() {
    return this.conversation.transcript;
  }

  get elapsedMs(): number {
    return this.now() - this.t0;
  }

  /**
   * Background work of the call (turns, timers, hang-up): a failure is logged and recorded, never an unhandled
   * rejection (which would take the whole process down).
   */
  private bg(p: Promise<unknown>): void {
    p.catch((err: unknown) => this.fault(err));
  }

  private fault(err: unknown): void {
    this.faults++;
    if (this.faults <= 3) {
      this.deps.logger.error({ err, callId: this.callId, state: this.callState }, 'call session error');
      this.deps.sink.event('incident', {
        kind: 'session',
        message: (err as Error)?.message ?? String(err),
        atMs: Math.round(this.elapsedMs),
      });
    }
  }

  /** Warm the providers, start the greeting. Never throws: a failure ends the call with a recorded reason. */
  async start(): Promise<void> {
    const { deps } = this;
    deps.sink.update({ status: 'in-progress', startedAt: this.startedAtIso });
    try {
      this.llm = deps.providers.llm(this.config.llm, this.hooks);
      this.tts = deps.providers.tts(this.config.tts, this.hooks);
    } catch (err) {
      this.incident({ kind: 'llm', provider: 'registry', message: (err as Error).message });
      await this.end('provider_unavailable');
      return;
    }
    this.timers.start();
    // ASR, VAD and tools come up in parallel with the greeting: the caller hears it without waiting for them.
    this.bg(this.input.openAsr(this.config));
    this.bg(this.input.openVad());
    this.toolsReady = this.openTools();
    const first = this.config.firstMessage?.trim();
    if (first) {
      this.setState('greeting', 'first_message');
      this.speakGreeting(first);
    } else {
      this.setState('listening', 'wait_for_caller');
      this.timers.armSilence();
    }
  }

  /* ------------------------------------------------------------------ state */

  private setState(state: CallState, reason?: string): void {
    if (this.callState === state || this.callState === 'ended') return;
    const t: StateTransition = { state, from: this.callState, atMs: Math.round(this.elapsedMs * 10) / 10, reason };
    this.transitions.push(t);
    this.callState = state;
    this.deps.sink.event('state', { ...t });
    if (state !== 'listening') this.timers.disarmSilence();
    this.syncAgent();
  }

  /** Tell turn-taking what the agent is doing (its phase and since when). */
  private syncAgent(): void {
    const c = this.current;
    const s = this.callState;
    const phase =
      !c || c.u.isDone
        ? 'quiet'
        : s === 'agent_speaking' || s === 'greeting'
          ? 'speaking'
          : s === 'thinking'
            ? 'thinking'
            : 'quiet';
    this.turns.agent(phase, c?.u.startedAt ?? 0);
    this.turns.hold(this.ending || this.pendingAction !== undefined);
  }

  private turnConfig(): TurnTakingConfig {
    const s = this.config.settings ?? {};
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

  private applySettings(): void {
    this.turns.setConfig(this.turnConfig());
    this.dtmf.setConfig(this.config.dtmf);
    this.timers.setSettings(this.config.settings);
  }

  /* ------------------------------------------------------------------ providers */

  /** A provider retry / fallback / failure (from the registry's resilience wrapper, or seen here). */
  private incident(
    i: Incident | { kind: string; provider: string; code?: string; message: string; action?: string },
  ): void {
    this.deps.sink.event('incident', {
      kind: i.kind,
      provider: i.provider,
      code: i.code,
      action: i.action,
      message: i.message,
      turn: this.conversation.turn,
      atMs: Math.round(this.elapsedMs),
    });
  }

  private async openTools(): Promise<void> {
    this.tools = await this.deps.tools.forCall(this.config, this.deps.logger, (what, err) =>
      this.deps.sink.event('incident', {
        kind: 'tool',
        provider: what,
        message: (err as Error)?.message ?? String(err),
      }),
    );
  }

  private async callTools(): Promise<CallTools | undefined> {
    await this.toolsReady;
    return this.tools;
  }

  /* ------------------------------------------------------------------ MediaLeg handler */

  onAudio(pcm: Int16Array, wire: Uint8Array): void {
    if (this.finalized) return;
    try {
      this.recorder?.callerFrame(pcm);
      this.input.frame(pcm, wire, this.now());
      this.scheduleTurnTick();
    } catch (err) {
      // Bad input or a bug must not take the gateway (or the process) down: counted and logged a few times.
      this.fault(err);
    }
  }

  onDtmf(digit: string, source: DtmfSource, durationMs?: number): void {
    if (this.ending) return;
    try {
      const turn = this.conversation.turn;
      this.deps.sink.event('dtmf', { digit, source, durationMs, turn, atMs: Math.round(this.elapsedMs) });
      if (this.callState === 'listening') this.timers.armSilence();
      this.dtmf.press(digit);
    } catch (err) {
      this.fault(err);
    }
  }

  onMark(name: string, played: boolean): void {
    this.current?.u.onMark(name, played);
  }

  onPlaybackIdle(): void {
    this.current?.u.onPlaybackIdle();
  }

  onStop(reason: string): void {
    this.bg(this.finalize(reason === 'stop' || !reason ? 'caller_hangup' : reason));
  }

  /* ------------------------------------------------------------------ caller speech */

  private onAsr(ev: AsrEvent): void {
    if (this.finalized) return;
    const now = this.now();
    switch (ev.type) {
      case 'partial':
        this.turns.asrPartial(ev.text);
        if (ev.text) this.deps.retriever?.prefetch?.(ev.text);
        this.afterWords();
        break;
      case 'final':
        this.turns.asrFinal(ev.text, ev.speechFinal, now);
        this.afterWords();
        break;
      case 'utterance_end':
        this.turns.utteranceEnd(now);
        break;
      default:
        break;
    }
    this.scheduleTurnTick();
  }

  /** Words arrived: they start a turn the VAD missed. */
  private afterWords(): void {
    if (this.turns.text && this.callState === 'listening') {
      this.timers.disarmSilence();
      this.setState('user_speaking', 'asr_words');
    }
  }

  /** One timer for the endpointing deadline, re-set only when the deadline moves. */
  private scheduleTurnTick(): void {
    const at = this.turns.deadline;
    if (at === this.turnTimerAt) return;
    if (this.turnTimer) clearTimeout(this.turnTimer);
    this.turnTimer = undefined;
    this.turnTimerAt = at;
    if (at === undefined || this.finalized) return;
    this.turnTimer = setTimeout(
      () => {
        this.turnTimer = undefined;
        this.turnTimerAt = undefined;
        if (this.finalized) return;
        this.turns.tick(this.now());
        this.scheduleTurnTick();
      },
      Math.max(0, at - this.now()),
    );
  }

  private onDecision(d: TurnDecision): void {
    switch (d.type) {
      case 'speech_start':
        if (this.ending) return;
        this.timers.disarmSilence();
        if (this.callState === 'listening') this.setState('user_speaking', 'speech_start');
        return;
      case 'speech_end':
        // Ask the recognizer for its final now rather than after its own endpointing (Deepgram Finalize).
        this.input.finalize();
        return;
      case 'barge_in':
        if (this.current && !this.current.u.isDone && !this.ending && !this.pendingAction) this.bargeIn(d.by);
        return;
      case 'commit':
        this.onCommit(d.turn, d.overlap);
        return;
    }
  }

  /** Barge-in: caller speech while the agent speaks (or is about to) cancels the reply. */
  private bargeIn(by: string): void {
    const { u, r } = this.current!;
    const wasThinking = this.callState === 'thinking' && u.samplesQueued === 0;
    this.stopSpeaking(u);
    const heard = u.heardText();
    this.bargeIns++;
    const marks = this.currentTurn;
    if (marks) marks.interrupted = true;
    const atMs = Math.round(this.elapsedMs * 10) / 10;
    this.deps.sink.event('state', {
      state: 'user_speaking',
      from: this.callState,
      atMs,
      reason: 'barge_in',
      by,
      heard,
      intended: u.fullText,
    });
    // The caller only paused (nothing said yet): take the committed turn back and let it grow.
    const takenBack = wasThinking ? this.conversation.takeBackUserTurn() : undefined;
    if (!wasThinking) this.conversation.truncate(r, heard);
    this.transitions.push({ state: 'user_speaking', from: this.callState, atMs, reason: 'barge_in' });
    this.callState = 'user_speaking';
    this.syncAgent();
    this.turns.bargedIn(this.now(), takenBack);
  }

  /** Cut the agent off now: synthesis stops, the leg and the recorder drop what is queued. */
  private stopSpeaking(u: Utterance): void {
    u.cancel();
    this.current = undefined;
    this.leg.clear();
    this.recorder?.agentCleared();
  }

  private onCommit(c: TurnCommit, overlap: boolean): void {
    if (this.ending) return;
    const cur = this.current;
    const speaking = cur && !cur.u.isDone && (this.callState === 'agent_speaking' || this.callState === 'greeting');
    const marks = { speechEndAt: c.speechEndAt, asrFinalAt: c.asrFinalAt, committedAt: c.committedAt };
    if (overlap || speaking) {
      // Said over the agent without cutting it off: a backchannel ("uh-huh") or noise, dropped. With
      // interruptions off, real words wait for the agent to finish instead.
      if (!this.turnConfig().interruptible && !isBackchannel(c.text)) {
        if (speaking) this.queuedCommit = c;
        else this.bg(this.userTurn(c.text, marks));
      } else {
        this.conversation.backchannel(c.text);
      }
      return;
    }
    if (isBackchannel(c.text) && this.callState !== 'user_speaking' && this.callState !== 'listening') return;
    this.bg(this.userTurn(c.text, marks));
  }

  /* ------------------------------------------------------------------ DTMF */

  private onDigits(digits: string, reason: string): void {
    this.digits.push(digits);
    this.deps.sink.event('dtmf', { digits, reason, turn: this.conversation.turn + 1, collected: true });
    this.interruptForInput();
    const t = this.now();
    this.bg(this.userTurn(`DTMF: ${digits}`, { committedAt: t, speechEndAt: t }));
  }

  /** DTMF cuts the agent off like speech does. */
  private interruptForInput(): void {
    this.timers.disarmSilence();
    const c = this.current;
    if (c && !c.u.isDone) {
      this.stopSpeaking(c.u);
      this.conversation.truncate(c.r, c.u.heardText());
    }
    this.turns.reset();
    this.scheduleTurnTick();
  }

  private menuHost(): MenuHost {
    return {
      conversation: this.conversation,
      event: (type: CallEventType, data: Record<string, unknown>) => this.deps.sink.event(type, data),
      end: (reason: string, goodbye?: string) => this.end(reason, goodbye),
      transfer: (target: string) => this.requestTransfer(target, 'cold', undefined, 'dtmf_menu'),
      speak: (text: string | undefined) => this.speakAndAct(text),
      callTools: () => this.callTools(),
      toolContext: (signal: AbortSignal) => this.toolContext(signal),
      recordTool: (name: string, ok: boolean) => this.toolCalls.push({ name, ok }),
    };
  }

  /* ------------------------------------------------------------------ turns and replies */

  private async userTurn(text: string, marks: Omit<TurnMarks, 'turn'>): Promise<void> {
    if (this.ending) return;
    // Live config (DESIGN.md 9): a change seen after the last turn applies from this one.
    if (this.pendingConfig) {
      this.assistant = this.pendingConfig;
      this.config = this.pendingConfig.config;
      this.pendingConfig = undefined;
      this.applySettings();
      this.llm = this.deps.providers.llm(this.config.llm, this.hooks);
      this.tts = this.deps.providers.tts(this.config.tts, this.hooks);
    }
    this.pollConfig();
    this.timers.callerResponded();
    this.conversation.userTurn(text);
    const end = containsPhrase(text, this.config.hangup?.endPhrases);
    if (end) {
      this.bg(this.end('end_phrase', this.config.hangup?.goodbyeMessage ?? PHRASES.goodbye));
      return;
    }
    const tm: TurnMarks = { turn: this.conversation.turn, ...marks };
    this.turnMarks.push(tm);
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
      fillerStarted: () => {
        if (this.callState === 'thinking') this.setState('agent_speaking', 'filler');
      },
      newUtterance: () => this.newUtterance('r', true),
      callTools: () => this.callTools(),
      toolContext: (signal) => this.toolContext(signal),
      hasPendingAction: () => this.pendingAction !== undefined,
      recordTool: (name, ok) => this.toolCalls.push({ name, ok }),
      finishTurn: (u, tm) => this.finishTurn(u, tm),
    };
  }

  private pollConfig(): void {
    const load = this.deps.loadAssistant;
    if (!load) return;
    load().then(
      (a) => {
        if (a && a.version !== this.assistant.version) this.pendingConfig = a;
      },
      (err: unknown) =>
        this.deps.logger.warn({ err: (err as Error).message, callId: this.callId }, 'live config poll failed'),
    );
  }

  /** A new agent utterance, wired to the leg, the recorder, the conversation and the state machine. */
  private newUtterance(kind: string, inHistory: boolean): Speaking {
    const u: Utterance = new Utterance({
      id: `${kind}${++this.uttSeq}`,
      leg: this.leg,
      tts: this.tts,
      request: {
        voice: this.config.tts?.voice,
        model: this.config.tts?.model,
        speed: this.config.tts?.speed,
        language: this.config.language,
      },
      now: this.now,
      onAudio: this.recorder ? (c) => this.recorder!.agentAudio(c) : undefined,
      onFirstAudio: () => {
        if (this.current?.u === u && this.callState === 'thinking') this.setState('agent_speaking', 'first_audio');
      },
      onError: (err) => {
        this.incident({
          kind: 'tts',
          provider: this.tts.id,
          code: err instanceof ProviderError ? err.code : undefined,
          action: 'failed',
          message: (err as Error)?.message ?? String(err),
        });
      },
    });
    this.recorder?.agentUtteranceStart();
    this.current = { u, r: this.conversation.reply(inHistory) };
    this.syncAgent();
    return this.current;
  }

  /** The reply of this turn is over (heard, interrupted or failed): emit metrics, go back to listening. */
  private async finishTurn(u: Utterance, tm: TurnMarks | undefined): Promise<void> {
    if (tm) {
      tm.ttsFirstByteAt = u.timings.ttsFirstByteAt;
      tm.firstAudioAt = u.timings.firstAudioAt;
      const m = turnMetrics(tm);
      this.deps.sink.event('turn', { ...m, marks: epochMarks(tm, this.now()) });
      this.leg.sendEvent({ type: 'event', name: 'turn.metrics', data: { ...m } });
      if (this.currentTurn === tm) this.currentTurn = undefined;
    }
    await u.finished;
    if (this.current?.u === u) {
      this.current = undefined;
      this.syncAgent();
    }
    if (u.cancelled) return;
    await this.afterUtterance();
  }

  /** After an utterance played out: carry out a pending hangup / transfer, a queued turn, or listen. */
  private async afterUtterance(): Promise<void> {
    if (this.finalized || this.current) return;
    const a = this.pendingAction;
    if (a) {
      this.pendingAction = undefined;
      if (!this.endedBy) this.endedBy = a.by;
      if (a.type === 'hangup') await this.hangupNow(a.reason);
      else await this.transferNow(a.target, a.mode, a.summary);
      return;
    }
    if (this.ending) return;
    const q = this.queuedCommit;
    if (q) {
      this.queuedCommit = undefined;
      this.setState('user_speaking', 'queued_turn');
      this.onCommit(q, false);
      return;
    }
    if (this.turns.hasPendingTurn) {
      this.setState('user_speaking', 'caller_talking');
      return;
    }
    this.setState('listening', 'reply_done');
    this.timers.armSilence();
  }

  /** Speak a fixed text as an assistant turn (menu reply), then do what is pending. */
  private speakAndAct(text: string | undefined, kind = 'say'): void {
    if (!text) {
      this.bg(this.afterUtterance());
      return;
    }
    const { u, r } = this.newUtterance(kind, true);
    this.conversation.say(r, text);
    this.setState('agent_speaking', kind);
    u.say(text);
    u.end();
    this.bg(this.finishTurn(u, undefined));
  }

  /** Something the agent says outside the conversation (reprompt, apology): not sent to the LLM as history. */
  private sayAside(text: string, reason: string): void {
    if (this.ending) return;
    if (this.current && !this.current.u.isDone) return;
    const { u, r } = this.newUtterance('aside', false);
    this.conversation.say(r, text);
    this.setState('agent_speaking', reason);
    u.say(text);
    u.end();
    this.bg(this.finishTurn(u, undefined));
  }

  private speakGreeting(template: string): void {
    const text = fillVariables(template, this.variables);
    const cacheable = !hasVariables(template);
    const key = greetingKey(this.assistant.id, this.tts.id, this.config.tts?.voice, this.leg.info.outboundFormat, text);
    const { u, r } = this.newUtterance('greet', true);
    this.conversation.say(r, text);
    const cached = cacheable ? getGreeting(key) : undefined;
    if (cached) u.playCached(text, cached);
    else {
      if (cacheable) u.collectAudio();
      u.say(text);
    }
    u.end();
    if (cacheable && !cached) {
      void u.synthesized.then(() => {
        if (!u.cancelled && u.collectedAudio) putGreeting(key, u.collectedAudio);
      });
    }
    this.bg(this.finishTurn(u, undefined));
  }

  /* ------------------------------------------------------------------ tools and call control */

  private toolContext(signal: AbortSignal): ToolContext {
    return {
      callId: this.callId,
      signal,
      logger: this.deps.logger,
      endCall: (reason) => {
        this.pendingAction = { type: 'hangup', reason, by: 'end_call' };
        this.syncAgent();
      },
      transfer: (target, mode, summary) => this.requestTransfer(target, mode, summary, 'transfer_call'),
      sendDtmf: (digits) => this.leg.sendDtmf(digits),
      search: this.deps.retriever ? (q) => this.deps.retriever!.search(q) : undefined,
      transferTargets: this.config.hangup?.transferTargets ?? [],
    };
  }

  private requestTransfer(target: string, mode: TransferMode, summary: string | undefined, by: string): void {
    this.pendingAction = { type: 'transfer', target, mode, summary, by };
    this.syncAgent();
  }

  private async transferNow(target: string, mode: TransferMode, summary?: string): Promise<void> {
    this.ending = true;
    this.input.markEnding();
    if (!this.endReason) this.endReason = 'transferred';
    this.setState('transferring', mode);
    this.transferredTo = target;
    this.deps.sink.event('state', { state: 'transferring', target, mode, atMs: Math.round(this.elapsedMs) });
    try {
      await this.leg.transfer(target, mode, summary ?? (mode === 'warm' ? this.warmSummary() : undefined));
    } catch (err) {
      // The carrier could not transfer (no transfer message, no platform REST control): record the failure and
      // end the stream, which hands the call back to the platform (Twilio runs the TwiML after <Connect>).
      this.deps.sink.event('incident', { kind: 'transfer', message: (err as Error).message, target });
      this.endReason = 'transfer_failed';
      this.transferredTo = undefined;
      await this.hangupNow('transfer_failed');
      return;
    }
    await this.finalize('transferred');
  }

  private warmSummary(): string {
    const user = this.conversation.recentUserTexts(3);
    return user.length ? `The caller said: ${user.join(' ')}` : 'A caller is being transferred to you.';
  }

  private async hangupNow(reason: string): Promise<void> {
    if (this.finalized) return;
    this.ending = true;
    this.input.markEnding();
    // The leg reports its own stop while hanging up; the reason on record is ours.
    if (!this.endReason) this.endReason = reason;
    try {
      await this.leg.hangup(reason);
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message, callId: this.callId }, 'hangup failed');
    }
    await this.finalize(reason);
  }

  /**
   * End the call from our side: cut what is playing, say `goodbye` (if any) and hang up once it has played.
   * Idempotent; a second call while ending does nothing.
   */
  async end(reason: string, goodbye?: string): Promise<void> {
    if (this.ending || this.finalized) return;
    this.ending = true;
    this.input.markEnding();
    this.endReason = reason;
    if (!this.endedBy) this.endedBy = reason === 'silence_timeout' ? 'silence' : reason;
    this.turns.reset();
    this.scheduleTurnTick();
    this.dtmf.close();
    this.timers.disarmSilence();
    const c = this.current;
    if (c && !c.u.isDone) {
      this.stopSpeaking(c.u);
      this.conversation.truncate(c.r, c.u.heardText());
    }
    if (goodbye && !this.leg.closed) {
      const { u, r } = this.newUtterance('bye', false);
      this.conversation.say(r, goodbye);
      this.setState('agent_speaking', reason);
      u.say(goodbye);
      u.end();
      // Cap the wait: a leg that never confirms playback must not keep the call open.
      await Promise.race([u.finished, new Promise((res) => setTimeout(res, 15_000).unref())]);
    }
    await this.hangupNow(reason);
  }

  /* ------------------------------------------------------------------ the end */

  /** Release everything, write the record, run the post-call work. Idempotent. */
  async finalize(reason: string): Promise<void> {
    if (this.finalized) return;
    this.finalized = true;
    this.ending = true;
    if (!this.endReason) this.endReason = reason;
    // Nothing of ours ended it: the caller (or the platform) did.
    if (!this.endedBy) this.endedBy = 'caller';
    this.setState('ended', this.endReason);
    this.timers.close();
    this.turns.reset();
    this.scheduleTurnTick();
    this.dtmf.close();
    this.current?.u.cancel();
    this.current = undefined;
    this.input.close();
    void this.toolsReady?.then(() => this.tools?.close()).catch(() => undefined);
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
        endReason: this.endReason,
        transcript: [...this.conversation.transcript],
        turns: this.conversation.turn,
        transferredTo: this.transferredTo,
        endedBy: this.endedBy,
        bargeIns: this.bargeIns,
        digits: this.digits,
        toolCalls: this.toolCalls,
      },
    });
    this.resolveDone(result);
  }

  get isEnding(): boolean {
    return this.ending;
  }

  /**
   * One raw inbound wire message (text or binary) with its arrival time (ms, performance.now()), for the opt-in
   * wire recording (settings.recordWire). The gateway calls it for every message of the call, including those it
   * received before the session existed (connected / start). A no-op unless the assistant records wire.
   */
  recordWire(data: string | Uint8Array, atMs: number): void {
    if (this.config.settings?.recordWire !== true || this.finalized) return;
    if (!this.wire) {
      this.wire = new WireRecorder(this.files.wire, this.callId, this.leg.info.protocol);
    }
    this.wire.record(data, atMs);
  }
}
