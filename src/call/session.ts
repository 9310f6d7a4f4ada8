import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Assistant, AssistantConfig } from '../assistant.js';
import { pcmFormat, sameFormat } from '../audio/format.js';
import type { AsrEvent, AsrProvider, AsrStream, ChatMessage, LlmProvider, TtsProvider } from '../providers/types.js';
import { ProviderError } from '../providers/types.js';
import type { DtmfSource, MediaLeg, MediaLegHandler, TransferMode } from '../telephony/leg.js';
import type { CallTools, ToolContext } from '../tools/types.js';
import { CallControl } from './control.js';
import type { CallSummary, Incident, ProviderHooks, SessionDeps, TranscriptEntry } from './deps.js';
import { DtmfInput, type MenuAction } from './dtmf-input.js';
import { fillVariables, getGreeting, greetingKey, hasVariables, putGreeting } from './greeting.js';
import { type TurnMarks, turnMetrics } from './metrics.js';
import { PHRASES } from './phrases.js';
import { afterCall } from './post-call.js';
import { StereoCallRecorder } from './recorder.js';
import { runReply } from './reply.js';
import { Utterance } from './speech.js';
import { ToneGuard } from './tone-guard.js';
import { type TurnCommit, TurnDetector } from './turns.js';
import { energyVadFactory, SpeechGate, type VadLike } from './vad.js';
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
 * Inputs arrive as MediaLeg callbacks (audio, DTMF, marks, stop) and ASR events; the work per 20 ms frame is the
 * recorder copy, the VAD and the ASR write: no allocation beyond the ASR's own, no timers, no logging.
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

const MAX_ASR_BACKLOG_FRAMES = 100; // 2 s of 20 ms frames kept while the ASR stream opens
/** Extra sustained speech needed for a barge-in while the recognizer has given no words, ms. */
const NO_WORDS_EXTRA_MS = 500;

export class CallSession implements MediaLegHandler {
  readonly leg: MediaLeg;
  readonly callId: string;
  state: CallState = 'starting';
  readonly transitions: StateTransition[] = [];
  /** The conversation as the LLM sees it (system prompt excluded). */
  readonly history: ChatMessage[] = [];
  readonly transcript: TranscriptEntry[] = [];
  /** Per-turn latency marks, in turn order. */
  readonly turnMarks: TurnMarks[] = [];
  readonly digits: string[] = [];
  readonly toolCalls: { name: string; ok: boolean }[] = [];
  /** Resolves with the summary once the call has ended and the post-call work is done. */
  readonly done: Promise<CallSummary>;

  /* Set by start(), swapped between turns by live config. */
  assistant: Assistant;
  config: AssistantConfig;
  readonly deps: SessionDeps;
  readonly now: () => number;
  private readonly t0: number;
  private readonly startedAtIso: string;
  private readonly variables: Record<string, string>;
  private readonly hooks: ProviderHooks;
  llm!: LlmProvider;
  tts!: TtsProvider;
  private asrProvider: AsrProvider | undefined;
  private asr: AsrStream | undefined;
  private asrBacklog: Uint8Array[] | undefined = [];
  private asrUsesWire = false;
  private asrFailures = 0;
  private pcmView: Uint8Array | undefined;
  /** DTMF tones kept from the VAD and ASR (8 kHz lines). */
  private readonly toneGuard: ToneGuard | undefined;
  private silencePcm = new Int16Array(160);
  private silenceWire = new Uint8Array(0);
  private vad: VadLike | undefined;
  private readonly gate: SpeechGate;
  private readonly turns: TurnDetector;
  private readonly dtmf: DtmfInput;
  readonly recorder: StereoCallRecorder | undefined;
  tools: CallTools | undefined;
  private toolsReady: Promise<void> | undefined;
  /** The agent utterance in progress (greeting, reply, reprompt...). */
  current: Utterance | undefined;
  private currentTurn: TurnMarks | undefined;
  turn = 0;
  private uttSeq = 0;
  private pendingAction: PendingAction | undefined;
  private queuedCommit: TurnCommit | undefined;
  private pendingConfig: Assistant | undefined;
  private readonly control: CallControl;
  private ending = false;
  private finalized = false;
  private endReason = '';
  private transferredTo: string | undefined;
  private endedBy = '';
  private wire: WireRecorder | undefined;
  private bargeIns = 0;
  private resolveDone!: (s: CallSummary) => void;
  private readonly inRate: number;
  private bargeInSpeechMs = 200;
  /** The caller's current speech began while the agent was talking and has not barged in. */
  private overlapTurn = false;
  private interruptible = true;

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
    this.inRate = info.inboundFormat.sampleRate;
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
    this.gate = new SpeechGate(
      { threshold: 0.5, onsetMs: 60, hangoverMs: 160 },
      {
        onSpeechStart: (at) => this.onSpeechStart(at),
        onSpeechEnd: (at) => {
          this.turns.speechEnded(at);
          // Ask the recognizer for its final now rather than after its own endpointing (Deepgram Finalize).
          this.asr?.finalize();
        },
      },
    );
    this.turns = new TurnDetector(this.endpointing(), this.now, { onCommit: (c) => this.onCommit(c) });
    this.control = new CallControl(this.config.settings, {
      onReprompt: () => {
        if (this.state === 'listening' && !this.ending) this.sayAside(PHRASES.reprompt, 'silence_reprompt');
      },
      onSilenceTimeout: () => {
        if (this.state === 'listening') this.bg(this.end('silence_timeout', PHRASES.silenceGoodbye));
      },
      onMaxDuration: () => this.bg(this.end('max_duration', PHRASES.maxDuration)),
    });
    this.dtmf = new DtmfInput(this.config.dtmf, {
      onMenu: (d, a) => this.onMenu(d, a),
      onDigits: (d, reason) => this.onDigits(d, reason),
    });
    this.toneGuard = this.inRate === 8000 && this.config.dtmf?.enabled !== false ? new ToneGuard() : undefined;
    this.recorder = this.config.settings?.recordAudio === false ? undefined : new StereoCallRecorder(this.inRate);
    // Streamed as the call goes: bounded memory, and a crash leaves a readable recording.
    this.recorder?.stream(path.join(opts.deps.dataDir, 'recordings', `${safeName(this.callId)}.wav`));
    this.applySettings();
    this.leg.setHandler(this);
    // Opt-in exact wire recording; without it the leg drops its backlog of early messages at once.
    this.leg.setWireTap?.(this.config.settings?.recordWire === true ? (d, t) => this.recordWire(d, t) : undefined);
  }

  /**
   * Background work of the call (turns, timers, hang-up): a failure is logged and recorded, never an unhandled
   * rejection (which would take the whole process down).
   */
  private bg(p: Promise<unknown>): void {
    p.catch((err: unknown) => this.fault(err));
  }

  private faults = 0;

  private fault(err: unknown): void {
    this.faults++;
    if (this.faults <= 3) {
      this.deps.logger.error({ err, callId: this.callId, state: this.state }, 'call session error');
      this.deps.sink.event('incident', {
        kind: 'session',
        message: (err as Error)?.message ?? String(err),
        atMs: Math.round(this.elapsedMs),
      });
    }
  }

  get elapsedMs(): number {
    return this.now() - this.t0;
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
    this.control.start();
    // ASR, VAD and tools come up in parallel with the greeting: the caller hears it without waiting for them.
    this.bg(this.openAsr());
    this.bg(this.openVad());
    this.toolsReady = this.openTools();
    const first = this.config.firstMessage?.trim();
    if (first) {
      this.setState('greeting', 'first_message');
      this.speakGreeting(first);
    } else {
      this.setState('listening', 'wait_for_caller');
      this.control.armSilence();
    }
  }

  /* ------------------------------------------------------------------ state */

  setState(state: CallState, reason?: string): void {
    if (this.state === state || this.state === 'ended') return;
    const t: StateTransition = { state, from: this.state, atMs: Math.round(this.elapsedMs * 10) / 10, reason };
    this.transitions.push(t);
    this.state = state;
    this.deps.sink.event('state', { ...t });
    if (state !== 'listening') this.control.disarmSilence();
  }

  private applySettings(): void {
    const s = this.config.settings ?? {};
    const sensitivity = s.interruptionSensitivity ?? 0.5;
    this.interruptible = sensitivity > 0;
    // Sensitivity 0.5 keeps bargeInMinSpeechMs as configured; 1 halves it, lower values stretch it (0.25 -> 2x).
    const base = s.bargeInMinSpeechMs ?? 200;
    this.bargeInSpeechMs = sensitivity >= 0.5 ? base * (1 - (sensitivity - 0.5)) : base / (sensitivity * 2);
    this.turns.setConfig(this.endpointing());
    this.dtmf.setConfig(this.config.dtmf);
    this.control?.setSettings(this.config.settings);
  }

  private endpointing() {
    const e = this.config.settings?.endpointing ?? {};
    const minDelayMs = e.minDelayMs ?? 250;
    return { minDelayMs, maxDelayMs: Math.max(minDelayMs, e.maxDelayMs ?? 1500) };
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
      turn: this.turn,
      atMs: Math.round(this.elapsedMs),
    });
  }

  private async openAsr(): Promise<void> {
    if (this.ending) return;
    const info = this.leg.info;
    try {
      const provider = this.asrProvider ?? this.deps.providers.asr(this.config.asr, this.hooks);
      this.asrProvider = provider;
      this.asrUsesWire = provider.formats.some((f) => sameFormat(f, info.inboundFormat));
      const format = this.asrUsesWire ? info.inboundFormat : pcmFormat(this.inRate);
      const e = this.config.settings?.endpointing;
      const stream = await provider.open(
        {
          format,
          language: this.config.asr?.language ?? this.config.language,
          model: this.config.asr?.model,
          keyterms: this.config.asr?.keyterms,
          interimResults: true,
          endpointingMs: e?.minDelayMs ?? 250,
          utteranceEndMs: Math.max(1000, e?.maxDelayMs ?? 1500),
        },
        (ev) => this.onAsr(ev),
      );
      if (this.ending) {
        await stream.close();
        return;
      }
      this.asr = stream;
      const backlog = this.asrBacklog;
      this.asrBacklog = undefined;
      if (backlog) for (const b of backlog) stream.write(b);
    } catch (err) {
      this.asrFailed(err);
    }
  }

  private asrFailed(err: unknown): void {
    this.asr = undefined;
    this.asrBacklog = undefined;
    this.asrFailures++;
    this.incident({
      kind: 'asr',
      provider: this.asrProvider?.id ?? this.config.asr?.provider ?? 'asr',
      code: err instanceof ProviderError ? err.code : undefined,
      action: 'failed',
      message: (err as Error)?.message ?? String(err),
    });
    if (this.ending) return;
    if (this.asrFailures <= 1) {
      // One reopen (the registry already retried and fell back); then tell the caller, keep DTMF working.
      this.asrBacklog = [];
      this.bg(this.openAsr());
      return;
    }
    if (this.asrFailures === 2) this.sayAside(PHRASES.cantHear, 'asr_failed');
  }

  private async openVad(): Promise<void> {
    const factory =
      this.deps.createVad ??
      (async (rate: number): Promise<VadLike> => {
        if (rate !== 8000 && rate !== 16000) return energyVadFactory(rate);
        try {
          const { createVad } = await import('../audio/vad.js');
          return await createVad({ sampleRate: rate });
        } catch {
          return energyVadFactory(rate);
        }
      });
    try {
      this.vad = await factory(this.inRate);
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message, callId: this.callId }, 'VAD unavailable; energy VAD used');
      this.vad = await energyVadFactory(this.inRate);
    }
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

  async callTools(): Promise<CallTools | undefined> {
    await this.toolsReady;
    return this.tools;
  }

  /* ------------------------------------------------------------------ MediaLeg handler */

  onAudio(pcm: Int16Array, wire: Uint8Array): void {
    if (this.finalized) return;
    try {
      this.audioFrame(pcm, wire);
    } catch (err) {
      // Bad input or a bug must not take the gateway (or the process) down: counted and logged a few times.
      this.fault(err);
    }
  }

  private audioFrame(pcm: Int16Array, wire: Uint8Array): void {
    this.recorder?.callerFrame(pcm);
    const t = this.now();
    const frameMs = (pcm.length * 1000) / this.inRate;
    if (this.toneGuard?.push(pcm)) {
      // A key press on the line: silence for the VAD and the recognizer (the digit comes as a DTMF event).
      if (this.toneGuard.takeStarted()) {
        const wasSpeaking = this.gate.speaking;
        this.gate.cancelRun();
        if (wasSpeaking && this.state === 'user_speaking' && !this.turns.text) this.turns.reset();
      }
      pcm = this.silentPcm(pcm.length);
      wire = this.silentWire(wire.length);
    }
    if (this.vad) {
      const p = this.vad.process(pcm);
      this.gate.push(t - frameMs, frameMs, p);
      // Sustained speech counts from the later of its onset and the agent starting to speak.
      const u = this.current;
      if (this.gate.speaking && u && this.interruptible) {
        const sustained = this.gate.voicedSince(u.startedAt);
        // Words that are not a backchannel cut in at bargeInMinSpeechMs; speech the recognizer has not put into
        // words yet must last longer, so "uh-huh" / "okay" (0.2-0.5 s) and noise do not cut the agent off.
        const words = this.turns.text;
        const needed = words && !isBackchannel(words) ? this.bargeInSpeechMs : this.bargeInSpeechMs + NO_WORDS_EXTRA_MS;
        if (sustained >= needed) this.checkBargeIn('vad');
      }
    }
    const bytes = this.asrUsesWire ? wire : this.pcmBytes(pcm);
    if (this.asr) this.asr.write(bytes);
    else if (this.asrBacklog && this.asrBacklog.length < MAX_ASR_BACKLOG_FRAMES)
      this.asrBacklog.push(Uint8Array.from(bytes));
  }

  private silentPcm(n: number): Int16Array {
    if (this.silencePcm.length < n) this.silencePcm = new Int16Array(n);
    return this.silencePcm.subarray(0, n);
  }

  private silentWire(n: number): Uint8Array {
    if (this.silenceWire.length < n) {
      const enc = this.leg.info.inboundFormat.encoding;
      this.silenceWire = new Uint8Array(n).fill(enc === 'mulaw' ? 0xff : enc === 'alaw' ? 0xd5 : 0);
    }
    return this.silenceWire.subarray(0, n);
  }

  /** A byte view of the leg's PCM frame, re-made only when the leg hands over a different buffer. */
  private pcmBytes(pcm: Int16Array): Uint8Array {
    const v = this.pcmView;
    if (v && v.buffer === pcm.buffer && v.byteOffset === pcm.byteOffset && v.byteLength === pcm.byteLength) return v;
    this.pcmView = new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
    return this.pcmView;
  }

  onDtmf(digit: string, source: DtmfSource, durationMs?: number): void {
    if (this.ending) return;
    try {
      this.dtmfKey(digit, source, durationMs);
    } catch (err) {
      this.fault(err);
    }
  }

  private dtmfKey(digit: string, source: DtmfSource, durationMs?: number): void {
    this.deps.sink.event('dtmf', { digit, source, durationMs, turn: this.turn, atMs: Math.round(this.elapsedMs) });
    if (this.state === 'listening') this.control.armSilence();
    this.dtmf.press(digit);
  }

  onMark(name: string, played: boolean): void {
    this.current?.onMark(name, played);
  }

  onPlaybackIdle(): void {
    this.current?.onPlaybackIdle();
  }

  onStop(reason: string): void {
    this.bg(this.finalize(reason === 'stop' || !reason ? 'caller_hangup' : reason));
  }

  /* ------------------------------------------------------------------ caller speech */

  private onSpeechStart(_at: number): void {
    if (this.ending) return;
    this.control.disarmSilence();
    // Speech that starts while the agent talks is a backchannel unless it grows into a barge-in.
    const agentTalking =
      this.current !== undefined &&
      !this.current.isDone &&
      (this.state === 'agent_speaking' || this.state === 'greeting');
    this.overlapTurn = agentTalking;
    this.turns.speechStarted();
    if (this.state === 'listening') this.setState('user_speaking', 'speech_start');
  }

  private onAsr(ev: AsrEvent): void {
    if (this.finalized) return;
    switch (ev.type) {
      case 'partial':
        this.turns.asrPartial(ev.text);
        if (ev.text) this.deps.retriever?.prefetch?.(ev.text);
        this.afterWords();
        break;
      case 'final':
        this.turns.asrFinal(ev.text, ev.speechFinal);
        this.afterWords();
        break;
      case 'speech_started':
        break;
      case 'utterance_end':
        this.turns.utteranceEnd();
        break;
      case 'error':
        if (ev.fatal) this.asrFailed(ev.error);
        else
          this.incident({
            kind: 'asr',
            provider: ev.error.provider,
            code: ev.error.code,
            action: 'retry',
            message: ev.error.message,
          });
        break;
      case 'closed':
        if (!this.ending && this.asr) this.asrFailed(new Error('ASR stream closed'));
        break;
    }
  }

  /** Words arrived: they may barge in (agent speaking), or start a turn the VAD missed. */
  private afterWords(): void {
    const text = this.turns.text;
    if (!text) return;
    if (this.state === 'listening') {
      this.control.disarmSilence();
      this.setState('user_speaking', 'asr_words');
    }
    // Words cut the agent off only while the VAD hears the caller now and for long enough: a late final of
    // something said earlier (a slow recognizer) is not an interruption.
    const u = this.current;
    if (
      this.interruptible &&
      u &&
      this.gate.speaking &&
      !isBackchannel(text) &&
      this.gate.voicedSince(u.startedAt) >= this.bargeInSpeechMs
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
    const u = this.current;
    if (!u || u.isDone || this.ending || this.pendingAction) return;
    if (this.state !== 'agent_speaking' && this.state !== 'greeting' && this.state !== 'thinking') return;
    const words = this.turns.text;
    if (words && isBackchannel(words)) return;
    if (!this.gate.speaking) return;
    this.overlapTurn = false;
    this.bargeIn(by);
  }

  private bargeIn(by: string): void {
    const u = this.current!;
    const wasThinking = this.state === 'thinking' && u.samplesQueued === 0;
    u.cancel();
    this.current = undefined;
    this.leg.clear();
    this.recorder?.agentCleared();
    const heard = u.heardText();
    this.bargeIns++;
    const marks = this.currentTurn;
    if (marks) marks.interrupted = true;
    this.deps.sink.event('state', {
      state: 'user_speaking',
      from: this.state,
      atMs: Math.round(this.elapsedMs * 10) / 10,
      reason: 'barge_in',
      by,
      heard,
      intended: u.fullText,
    });
    if (wasThinking) {
      // The caller only paused: take the committed turn back and let it grow.
      const last = this.history[this.history.length - 1];
      if (last?.role === 'user') {
        this.history.pop();
        this.turns.restore(last.content);
        const i = this.transcript.findLastIndex((e) => e.role === 'user' && e.text === last.content);
        if (i >= 0) {
          const [gone] = this.transcript.splice(i, 1);
          this.deps.sink.event('transcript', { ...gone, superseded: true });
        }
      }
    } else {
      this.truncateAssistant(u, heard);
    }
    this.transitions.push({
      state: 'user_speaking',
      from: this.state,
      atMs: Math.round(this.elapsedMs * 10) / 10,
      reason: 'barge_in',
    });
    this.state = 'user_speaking';
    this.turns.speechStarted();
    if (!this.gate.speaking) this.turns.speechEnded(this.now());
  }

  /** The assistant message in the history becomes what the caller heard (issue 6, deliverable 4). */
  private truncateAssistant(u: Utterance, heard: string): void {
    const entry = this.transcript.findLast((e) => e.role === 'assistant' && e.turn === this.turn);
    for (let i = this.history.length - 1; i >= 0; i--) {
      const m = this.history[i]!;
      if (m.role === 'user') break;
      if (m.role === 'assistant' && m.content) {
        m.content = heard;
        break;
      }
    }
    if (u.replyPushed === false) {
      // The reply had not been added yet (cancelled mid-stream): add what was heard.
      if (heard) this.history.push({ role: 'assistant', content: heard });
      u.replyPushed = true;
    }
    if (entry) {
      entry.text = heard;
      entry.interrupted = true;
      this.deps.sink.event('transcript', { ...entry, truncated: true });
    } else if (heard) {
      this.addTranscript('assistant', heard, true);
    }
  }

  private onCommit(c: TurnCommit): void {
    if (this.ending) return;
    const speaking =
      this.current && !this.current.isDone && (this.state === 'agent_speaking' || this.state === 'greeting');
    if (this.overlapTurn || speaking) {
      this.overlapTurn = false;
      // Said over the agent without cutting it off: a backchannel ("uh-huh") or noise, dropped. With
      // interruptions off, real words wait for the agent to finish instead.
      if (!this.interruptible && !isBackchannel(c.text)) {
        if (speaking) this.queuedCommit = c;
        else
          this.bg(
            this.userTurn(c.text, {
              speechEndAt: c.speechEndAt,
              asrFinalAt: c.asrFinalAt,
              committedAt: c.committedAt,
            }),
          );
      } else {
        this.deps.sink.event('transcript', {
          role: 'user',
          text: c.text,
          turn: this.turn,
          backchannel: true,
          atMs: Math.round(this.elapsedMs),
        });
      }
      return;
    }
    if (isBackchannel(c.text) && this.state !== 'user_speaking' && this.state !== 'listening') return;
    this.bg(
      this.userTurn(c.text, {
        speechEndAt: c.speechEndAt,
        asrFinalAt: c.asrFinalAt,
        committedAt: c.committedAt,
      }),
    );
  }

  /* ------------------------------------------------------------------ DTMF */

  private onDigits(digits: string, reason: string): void {
    this.digits.push(digits);
    this.deps.sink.event('dtmf', { digits, reason, turn: this.turn + 1, collected: true });
    this.interruptForInput();
    const t = this.now();
    this.bg(this.userTurn(`DTMF: ${digits}`, { committedAt: t, speechEndAt: t }));
  }

  private onMenu(digit: string, action: MenuAction): void {
    this.digits.push(digit);
    this.interruptForInput();
    this.turn++;
    this.addTranscript('user', `DTMF: ${digit}`);
    this.history.push({ role: 'user', content: `DTMF: ${digit}` });
    this.deps.sink.event('dtmf', { digit, menu: true, action, turn: this.turn });
    if (action.hangup) {
      this.bg(this.end('dtmf_menu', action.reply));
      return;
    }
    if (action.transferTo) {
      this.requestTransfer(action.transferTo, 'cold', undefined, 'dtmf_menu');
      this.speakAndAct(action.reply ?? PHRASES.transferring);
      return;
    }
    if (action.tool) {
      this.bg(this.runMenuTool(action));
      return;
    }
    if (action.reply) this.speakAndAct(action.reply);
  }

  private async runMenuTool(action: MenuAction): Promise<void> {
    const tools = await this.callTools();
    const tool = tools?.get(action.tool!);
    if (!tool) {
      this.deps.sink.event('tool', {
        name: action.tool,
        ok: false,
        error: 'unknown tool',
        turn: this.turn,
        source: 'dtmf',
      });
      if (action.reply) this.speakAndAct(action.reply);
      return;
    }
    const ac = new AbortController();
    const res = await tool.run(action.toolArgs ?? {}, this.toolContext(ac.signal));
    this.toolCalls.push({ name: tool.name, ok: res.ok });
    this.deps.sink.event('tool', {
      name: tool.name,
      arguments: action.toolArgs ?? {},
      ok: res.ok,
      result: res.content.slice(0, 2000),
      turn: this.turn,
      source: 'dtmf',
    });
    this.speakAndAct(action.reply);
  }

  /** DTMF cuts the agent off like speech does. */
  private interruptForInput(): void {
    this.control.disarmSilence();
    const u = this.current;
    if (u && !u.isDone) {
      u.cancel();
      this.current = undefined;
      this.leg.clear();
      this.recorder?.agentCleared();
      this.truncateAssistant(u, u.heardText());
    }
    this.turns.reset();
  }

  /* ------------------------------------------------------------------ turns and replies */

  addTranscript(role: 'user' | 'assistant', text: string, interrupted?: boolean): void {
    const e: TranscriptEntry = {
      role,
      text,
      turn: this.turn,
      atMs: Math.round(this.elapsedMs),
      ...(interrupted ? { interrupted } : {}),
    };
    this.transcript.push(e);
    this.deps.sink.event('transcript', { ...e });
    this.leg.sendEvent({ type: 'transcript', role, text, final: true, turn: this.turn });
  }

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
    this.control.callerResponded();
    this.turn++;
    this.addTranscript('user', text);
    this.history.push({ role: 'user', content: text });
    const end = containsPhrase(text, this.config.hangup?.endPhrases);
    if (end) {
      this.bg(this.end('end_phrase', this.config.hangup?.goodbyeMessage ?? PHRASES.goodbye));
      return;
    }
    const tm: TurnMarks = { turn: this.turn, ...marks };
    this.turnMarks.push(tm);
    this.currentTurn = tm;
    await runReply(this, tm);
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

  /** A new agent utterance, wired to the leg, the recorder and the state machine. */
  newUtterance(kind: string): Utterance {
    const u = new Utterance({
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
        if (this.current === u && this.state === 'thinking') this.setState('agent_speaking', 'first_audio');
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
    this.current = u;
    return u;
  }

  /** The reply of this turn is over (heard, interrupted or failed): emit metrics, go back to listening. */
  async finishTurn(u: Utterance, tm: TurnMarks | undefined): Promise<void> {
    if (tm) {
      tm.ttsFirstByteAt = u.timings.ttsFirstByteAt;
      tm.firstAudioAt = u.timings.firstAudioAt;
      const m = turnMetrics(tm);
      this.deps.sink.event('turn', { ...m });
      this.leg.sendEvent({ type: 'event', name: 'turn.metrics', data: { ...m } });
      if (this.currentTurn === tm) this.currentTurn = undefined;
    }
    await u.finished;
    if (this.current === u) this.current = undefined;
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
      this.onCommit(q);
      return;
    }
    if (this.turns.hasPendingTurn) {
      this.setState('user_speaking', 'caller_talking');
      return;
    }
    this.setState('listening', 'reply_done');
    this.control.armSilence();
  }

  /** Speak a fixed text as an assistant turn (menu reply, greeting), then do what is pending. */
  speakAndAct(text: string | undefined, kind = 'say'): void {
    if (!text) {
      this.bg(this.afterUtterance());
      return;
    }
    const u = this.newUtterance(kind);
    this.history.push({ role: 'assistant', content: text });
    u.replyPushed = true;
    this.addTranscript('assistant', text);
    this.setState('agent_speaking', kind);
    u.say(text);
    u.end();
    this.bg(this.finishTurn(u, undefined));
  }

  /** Something the agent says outside the conversation (reprompt, apology): not sent to the LLM as history. */
  private sayAside(text: string, reason: string): void {
    if (this.ending) return;
    if (this.current && !this.current.isDone) return;
    const u = this.newUtterance('aside');
    u.replyPushed = true;
    this.addTranscript('assistant', text);
    this.setState('agent_speaking', reason);
    u.say(text);
    u.end();
    this.bg(this.finishTurn(u, undefined));
  }

  private speakGreeting(template: string): void {
    const text = fillVariables(template, this.variables);
    const cacheable = !hasVariables(template);
    const key = greetingKey(this.assistant.id, this.tts.id, this.config.tts?.voice, this.leg.info.outboundFormat, text);
    const u = this.newUtterance('greet');
    this.history.push({ role: 'assistant', content: text });
    u.replyPushed = true;
    this.addTranscript('assistant', text);
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

  toolContext(signal: AbortSignal): ToolContext {
    return {
      callId: this.callId,
      signal,
      logger: this.deps.logger,
      endCall: (reason) => {
        this.pendingAction = { type: 'hangup', reason, by: 'end_call' };
      },
      transfer: (target, mode, summary) => this.requestTransfer(target, mode, summary, 'transfer_call'),
      sendDtmf: (digits) => this.leg.sendDtmf(digits),
      search: this.deps.retriever ? (q) => this.deps.retriever!.search(q) : undefined,
      transferTargets: this.config.hangup?.transferTargets ?? [],
    };
  }

  get hasPendingAction(): boolean {
    return this.pendingAction !== undefined;
  }

  recordTool(name: string, ok: boolean): void {
    this.toolCalls.push({ name, ok });
  }

  private requestTransfer(target: string, mode: TransferMode, summary: string | undefined, by: string): void {
    this.pendingAction = { type: 'transfer', target, mode, summary, by };
  }

  private async transferNow(target: string, mode: TransferMode, summary?: string): Promise<void> {
    this.ending = true;
    if (!this.endReason) this.endReason = 'transferred';
    this.setState('transferring', mode);
    this.transferredTo = target;
    this.deps.sink.event('state', { state: 'transferring', target, mode, atMs: Math.round(this.elapsedMs) });
    try {
      await this.leg.transfer(target, mode, summary ?? (mode === 'warm' ? this.warmSummary() : undefined));
    } catch (err) {
      // E.g. Twilio: no transfer message on the socket; the platform's REST API does it (deps.transferCall), and
      // the media stream ends. Without it, record the failure and end the stream, which hands the call back to
      // the platform (Twilio runs the TwiML after <Connect>).
      let failure = err;
      if (this.deps.transferCall) {
        try {
          await this.deps.transferCall(
            this.leg.info,
            target,
            mode,
            summary ?? (mode === 'warm' ? this.warmSummary() : undefined),
          );
          await this.hangupNow('transferred');
          return;
        } catch (restErr) {
          failure = restErr;
        }
      }
      this.deps.sink.event('incident', { kind: 'transfer', message: (failure as Error).message, target });
      this.endReason = 'transfer_failed';
      this.transferredTo = undefined;
      await this.hangupNow('transfer_failed');
      return;
    }
    await this.finalize('transferred');
  }

  private warmSummary(): string {
    const user = this.transcript.filter((e) => e.role === 'user').map((e) => e.text);
    return user.length ? `The caller said: ${user.slice(-3).join(' ')}` : 'A caller is being transferred to you.';
  }

  private async hangupNow(reason: string): Promise<void> {
    if (this.finalized) return;
    this.ending = true;
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
    this.endReason = reason;
    if (!this.endedBy) this.endedBy = reason === 'silence_timeout' ? 'silence' : reason;
    this.turns.close();
    this.dtmf.close();
    this.control.disarmSilence();
    const u = this.current;
    if (u && !u.isDone) {
      u.cancel();
      this.current = undefined;
      this.leg.clear();
      this.recorder?.agentCleared();
      this.truncateAssistant(u, u.heardText());
    }
    if (goodbye && !this.leg.closed) {
      const g = this.newUtterance('bye');
      g.replyPushed = true;
      this.addTranscript('assistant', goodbye);
      this.setState('agent_speaking', reason);
      g.say(goodbye);
      g.end();
      // Cap the wait: a leg that never confirms playback must not keep the call open.
      await Promise.race([g.finished, new Promise((r) => setTimeout(r, 15_000).unref())]);
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
    const endReason = this.endReason;
    this.setState('ended', endReason);
    this.control.close();
    this.turns.close();
    this.dtmf.close();
    this.current?.cancel();
    this.current = undefined;
    const endedAt = new Date().toISOString();
    const durationMs = Math.round(this.elapsedMs);
    // Store statuses (src/store CallStatus): a call that fails to start or breaks ends as 'failed'.
    const status = endReason.startsWith('error') || endReason === 'provider_unavailable' ? 'failed' : 'completed';
    this.deps.sink.update({ status, endedAt, endReason, durationMs });
    const asr = this.asr;
    this.asr = undefined;
    this.asrBacklog = undefined;
    // Closing the recognizer can take a while (an offline one decodes its backlog); the record does not wait.
    void asr?.close().catch(() => undefined);
    void this.toolsReady?.then(() => this.tools?.close()).catch(() => undefined);
    this.vad?.close?.();
    const wirePath = this.wire?.file;
    await this.wire?.close();

    const { recordingPath, summary, structured } = await afterCall({
      llm: this.llm,
      config: this.config,
      transcript: this.transcript,
      endReason,
      recorder: this.recorder,
      recordingsDir: path.join(this.deps.dataDir, 'recordings'),
      name: safeName(this.callId),
      logger: this.deps.logger,
    });
    this.deps.sink.update({
      recordingPath,
      summary,
      ...(structured.value !== undefined && !structured.error ? { structuredOutput: structured.value } : {}),
      ...(structured.error ? { structuredOutputError: structured.error } : {}),
    });
    const result: CallSummary = {
      callId: this.callId,
      assistantId: this.assistant.id,
      protocol: this.leg.info.protocol,
      startedAt: this.startedAtIso,
      endedAt,
      durationMs,
      endReason,
      transcript: this.transcript,
      turns: this.turn,
      recordingPath,
      wirePath,
      summary,
      structuredOutput: structured.error ? undefined : structured.value,
      structuredOutputError: structured.error,
      transferredTo: this.transferredTo,
      endedBy: this.endedBy,
      bargeIns: this.bargeIns,
      digits: this.digits,
      toolCalls: this.toolCalls,
    };
    try {
      this.deps.onEnded?.(result);
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message, callId: this.callId }, 'onEnded failed');
    }
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
      this.wire = new WireRecorder(path.join(this.deps.dataDir, 'wire'), safeName(this.callId), this.leg.info.protocol);
    }
    this.wire.record(data, atMs);
  }
}

function safeName(id: string): string {
  return id.replace(/[^a-zA-Z0-9_.-]/g, '_').slice(0, 120) || 'call';
}
