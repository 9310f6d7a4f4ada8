import type { AssistantConfig } from '../assistant.js';
import type { TtsProvider, TtsRequest } from '../providers/types.js';
import { ProviderError } from '../providers/types.js';
import type { MediaLeg } from '../telephony/leg.js';
import type { AgentReply, Conversation } from './conversation.js';
import { fillVariables, getGreeting, greetingKey, hasVariables, putGreeting } from './greeting.js';
import type { StereoCallRecorder } from './recorder.js';
import { Utterance } from './speech.js';
import { type ThinkingKind, thinkingAudio } from './thinking-audio.js';

/**
 * The agent's voice on the call: the one agent utterance in progress (greeting, reply, aside, goodbye) with its
 * place in the conversation, the TTS provider and voice it speaks with, and cutting it off. It owns `current`;
 * the session's state machine hears about changes through `AgentVoiceEvents`.
 */
export class Speaking {
  readonly u: Utterance;
  readonly r: AgentReply;

  constructor(u: Utterance, r: AgentReply) {
    this.u = u;
    this.r = r;
  }

  /**
   * Uninterruptible speech still to be heard (a first message marked so, a tool's `say` such as a legal
   * disclosure): caller speech does not stop it; what the caller says is kept and answered after.
   */
  get hold(): boolean {
    return this.u.holding;
  }
}

export interface AgentVoiceEvents {
  /** The current utterance sent its first audio to the leg. */
  onFirstAudio(s: Speaking): void;
  /** The current utterance changed (new one, cut off, finished). */
  onChange(): void;
  onTtsError(provider: string, code: string | undefined, message: string): void;
  /** The caller is speaking now (thinking audio never starts over the caller). */
  callerSpeaking(): boolean;
}

export class AgentVoice {
  private cur: Speaking | undefined;
  private seq = 0;
  /** Replies that played a filler phrase (they take turns). */
  private fillers = 0;
  private tts!: TtsProvider;
  private config!: AssistantConfig;
  private readonly leg: MediaLeg;
  private readonly conversation: Conversation;
  private readonly recorder: StereoCallRecorder | undefined;
  private readonly now: () => number;
  private readonly events: AgentVoiceEvents;

  constructor(
    leg: MediaLeg,
    conversation: Conversation,
    recorder: StereoCallRecorder | undefined,
    now: () => number,
    events: AgentVoiceEvents,
  ) {
    this.leg = leg;
    this.conversation = conversation;
    this.recorder = recorder;
    this.now = now;
    this.events = events;
  }

  /**
   * The TTS provider and assistant config new utterances use; a live config change also reaches the utterance in
   * progress from its next clause.
   */
  use(tts: TtsProvider, config: AssistantConfig): void {
    const changed = this.tts !== undefined;
    this.tts = tts;
    this.config = config;
    if (changed && this.cur && !this.cur.u.isDone) this.cur.u.retarget(tts, this.request());
  }

  private request(): Omit<TtsRequest, 'text' | 'format'> {
    return {
      voice: this.config.tts?.voice,
      model: this.config.tts?.model,
      speed: this.config.tts?.speed,
      language: this.config.language,
    };
  }

  get ttsId(): string {
    return this.tts.id;
  }

  get current(): Speaking | undefined {
    return this.cur;
  }

  /** An utterance is in progress and not yet heard to its end. */
  get talking(): boolean {
    return this.cur !== undefined && !this.cur.u.isDone;
  }

  /** A new agent utterance, wired to the leg, the recorder and the conversation; it becomes the current one. */
  start(kind: string, inHistory: boolean): Speaking {
    const u: Utterance = new Utterance({
      id: `${kind}${++this.seq}`,
      leg: this.leg,
      tts: this.tts,
      request: this.request(),
      now: this.now,
      onAudio: this.recorder ? (c) => this.recorder!.agentAudio(c) : undefined,
      onFirstAudio: () => {
        if (this.cur?.u === u) this.events.onFirstAudio(this.cur);
      },
      onHoldEnd: () => {
        if (this.cur?.u === u) this.events.onChange();
      },
      onPreludeCut: () => this.recorder?.agentCleared(),
      onError: (err) =>
        this.events.onTtsError(
          this.tts.id,
          err instanceof ProviderError ? err.code : undefined,
          (err as Error)?.message ?? String(err),
        ),
    });
    this.recorder?.agentUtteranceStart();
    this.cur = new Speaking(u, this.conversation.reply(inHistory));
    this.events.onChange();
    if (kind === 'r') this.armThinking(u);
    return this.cur;
  }

  /** A fixed text, said in full: in the transcript (and the history when `inHistory`). */
  say(kind: string, text: string, inHistory: boolean): Speaking {
    const s = this.start(kind, inHistory);
    this.conversation.say(s.r, text);
    s.u.say(text);
    s.u.end();
    return s;
  }

  /** The first message: {{variables}} filled (a personal one is never cached); uninterruptible when configured. */
  firstMessage(template: string, variables: Record<string, string>, assistantId: string): Speaking {
    const text = fillVariables(template, variables);
    const key = hasVariables(template)
      ? undefined
      : greetingKey(assistantId, this.tts.id, this.config.tts?.voice, this.leg.info.outboundFormat, text);
    return this.greet(text, key, this.config.settings?.interruption?.firstMessageUninterruptible);
  }

  /**
   * The greeting: from the greeting cache when `cacheKey` has audio, else synthesized (and cached if keyed);
   * `hold`: uninterruptible.
   */
  greet(text: string, cacheKey: string | undefined, hold?: boolean): Speaking {
    const s = this.start('greet', true);
    const { u } = s;
    this.conversation.say(s.r, text);
    const cached = cacheKey ? getGreeting(cacheKey) : undefined;
    if (cached) u.playCached(text, cached, hold);
    else {
      if (cacheKey) u.collectAudio();
      u.say(text, hold);
    }
    if (hold) this.events.onChange();
    u.end();
    if (cacheKey && !cached) {
      void u.synthesized.then(() => {
        if (!u.cancelled && u.collectedAudio) putGreeting(cacheKey, u.collectedAudio);
      });
    }
    return s;
  }

  /**
   * Cut the agent off now: synthesis stops, the leg and the recorder drop what is queued. With `truncate`, the
   * conversation keeps only what the caller heard. Returns what was cut (undefined when nothing was talking).
   */
  cut(truncate: boolean): Speaking | undefined {
    const c = this.cur;
    if (!c || c.u.isDone) return undefined;
    c.u.cancel();
    this.cur = undefined;
    this.leg.clear();
    this.recorder?.agentCleared();
    if (truncate) this.conversation.truncate(c.r, c.u.heardText(), c.u.truncation);
    this.events.onChange();
    return c;
  }

  /**
   * Caller speech over the agent: its audio stops on the wire now (the leg and the platform drop what is queued),
   * the position of what was not heard is kept. False when nothing is playing.
   */
  pause(): boolean {
    const c = this.cur;
    if (!c || c.u.isDone || c.u.isPaused) return false;
    c.u.pause();
    this.leg.clear();
    this.recorder?.agentCleared();
    return true;
  }

  /** A false interruption: the paused utterance plays on from where the caller stopped hearing it. */
  resume(): boolean {
    const c = this.cur;
    if (!c?.u.isPaused) return false;
    // The recording places the replayed audio from now on, as the caller hears it.
    this.recorder?.agentUtteranceStart();
    c.u.resume();
    return true;
  }

  /** `u` has finished (heard or cancelled): it stops being the current utterance. */
  finished(u: Utterance): void {
    if (this.cur?.u !== u) return;
    this.cur = undefined;
    this.events.onChange();
  }

  /**
   * A tool's `say` (e.g. a legal disclosure) during the reply in progress: spoken after what the reply said so far,
   * in the transcript (not the LLM history: it sits between the tool call and its result); `hold`: uninterruptible.
   * Nothing when no reply is playing (it was cut off).
   */
  interject(text: string, hold: boolean): boolean {
    const c = this.cur;
    if (!c || c.u.isDone || c.u.cancelled) return false;
    c.u.say(text, hold);
    this.conversation.heardOnly(c.r, text);
    if (hold) this.events.onChange();
    return true;
  }

  /** A reply: past settings.fillerAfterMs with nothing said yet, thinking audio plays until the answer starts. */
  private armThinking(u: Utterance): void {
    const kind = this.config.settings?.thinkingAudio ?? 'none';
    const after = this.config.settings?.fillerAfterMs ?? 1200;
    if (kind === 'none' || after <= 0) return;
    const t = setTimeout(() => void this.think(u, kind), after);
    void u.finished.then(() => clearTimeout(t));
  }

  private async think(u: Utterance, kind: ThinkingKind): Promise<void> {
    const quiet = () => !u.cancelled && u.samplesQueued === 0 && !this.events.callerSpeaking();
    if (!quiet()) return;
    const audio = await thinkingAudio(kind, this.leg.info.outboundFormat, kind === 'filler' ? this.fillers++ : 0).catch(
      () => undefined,
    );
    if (audio && quiet() && u.prelude(audio)) {
      u.timings.thinkingAudioAt = this.now();
      u.timings.thinkingAudio = kind;
    }
  }

  /** The call is over: stop whatever is playing, no truncation, no events. */
  close(): void {
    this.cur?.u.cancel();
    this.cur = undefined;
  }

  onMark(name: string, played: boolean): void {
    this.cur?.u.onMark(name, played);
  }

  onPlaybackIdle(): void {
    this.cur?.u.onPlaybackIdle();
  }
}
