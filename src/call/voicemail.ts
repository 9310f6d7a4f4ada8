import { AmdDetector, type AnsweredBy, carrierAnsweredBy } from '../amd/detector.js';
import type { AssistantConfig } from '../assistant.js';
import type { AudioFormat } from '../audio/format.js';
import type { AsrEvent } from '../providers/types.js';
import type { SessionDeps } from './deps.js';
import { fillVariables, greetingKey, hasVariables, warmGreeting } from './greeting.js';

/**
 * Voicemail screening at the start of a call (assistant `settings.voicemail`, issue 18): while it screens, the
 * caller's audio, VAD and words go to the answering-machine detector (src/amd) instead of turn-taking, and the
 * agent says nothing. Then:
 *   human / unknown ──▶ the call goes on as usual (first message, or listening)
 *   machine, action hangup ──▶ the call ends (reason `voicemail`)
 *   machine, action leave_message ──▶ wait for the end of the beep (or of the greeting when there is none), say
 *                                     the message, hang up
 * The verdict and its time (`answered_by`, `amd_ms`) go on the call record and the call.ended webhook.
 *
 * Runs on outbound calls; on inbound streams only when the stream opts in with the custom parameter `amd` = true
 * (call screening, tests, replays). A carrier verdict (Twilio `AnsweredBy`, as a stream custom parameter or from
 * the status callback through `carrier()`) wins over ours.
 */
export interface VoicemailHost {
  deps: Pick<SessionDeps, 'sink' | 'providers' | 'logger'>;
  assistantId: string;
  /** The call's {{variables}} for the message. */
  variables: Record<string, string>;
}

/** Human (or no verdict): start the conversation. */
export type Proceed = () => void;
/** Machine: end the call, after saying `message` when given (its audio from the greeting cache under `key`). */
export type EndCall = (reason: 'voicemail', message?: string, key?: string) => void;

export interface ScreenedCall {
  inboundFormat: { sampleRate: number };
  outboundFormat: AudioFormat;
  customParameters?: Record<string, string>;
}

export interface ScreenResult {
  answeredBy: AnsweredBy;
  amdMs: number;
}

export class VoicemailScreen {
  private readonly amd: AmdDetector;
  private readonly host: VoicemailHost;
  private readonly proceed: Proceed;
  private readonly end: EndCall;
  private readonly action: 'hangup' | 'leave_message';
  private readonly message: string | undefined;
  /** Speech probability of the current frame (the VAD reports it before the frame reaches us). */
  private p = 0;
  private phase: 'screening' | 'awaiting_cue' | 'done' = 'screening';
  private verdict: ScreenResult | undefined;
  private carrierAtStart: string | undefined;
  /** Greeting-cache key of the message, synthesized while the greeting plays (no TTS wait after the beep). */
  private messageKey: string | undefined;
  private readonly config: AssistantConfig;
  private readonly outFormat: AudioFormat;

  /** The screen for this call, or undefined when voicemail detection does not apply. */
  static for(
    config: AssistantConfig,
    call: ScreenedCall,
    outbound: boolean,
    host: VoicemailHost,
    proceed: Proceed,
    end: EndCall,
  ): VoicemailScreen | undefined {
    const vm = config.settings?.voicemail;
    const params = call.customParameters ?? {};
    if (!vm?.detect || !(outbound || /^(1|true|yes)$/i.test(params.amd ?? ''))) return undefined;
    const s = new VoicemailScreen(host, proceed, end, config, call, vm);
    s.carrierAtStart = params.AnsweredBy ?? params.answeredBy;
    return s;
  }

  private constructor(
    host: VoicemailHost,
    proceed: Proceed,
    end: EndCall,
    config: AssistantConfig,
    call: ScreenedCall,
    vm: { action: 'hangup' | 'leave_message'; message?: string },
  ) {
    this.host = host;
    this.proceed = proceed;
    this.end = end;
    this.config = config;
    this.outFormat = call.outboundFormat;
    this.action = vm.action;
    this.message = vm.message?.trim() || undefined;
    this.amd = new AmdDetector({ sampleRate: call.inboundFormat.sampleRate });
  }

  /** Screening starts (the session's start): a verdict the carrier sent with the stream applies now. */
  start(): void {
    this.carrier(this.carrierAtStart);
  }

  /** The caller's audio, VAD and words belong to the screen (not to turn-taking) while this is true. */
  get screening(): boolean {
    return this.phase !== 'done';
  }

  get result(): ScreenResult | undefined {
    return this.verdict;
  }

  /** The VAD's speech probability of the frame being delivered. */
  voice(p: number): void {
    this.p = p;
  }

  /** One frame of caller audio (after the VAD has seen it). No allocation. */
  frame(pcm: Int16Array): void {
    if (this.phase === 'done') return;
    const d = this.amd.frame(pcm, this.p);
    this.p = 0;
    if (d) this.decided(d.answeredBy, d.atMs);
    else if (this.phase === 'awaiting_cue' && this.amd.messageCue) this.leaveMessage();
  }

  asr(ev: AsrEvent): void {
    if (this.phase !== 'screening' || (ev.type !== 'partial' && ev.type !== 'final')) return;
    const d = this.amd.words(ev.text);
    if (d) this.decided(d.answeredBy, d.atMs);
  }

  /** The carrier's verdict (Twilio AnsweredBy), whenever it arrives during screening. */
  carrier(value: string | undefined): void {
    if (this.phase !== 'screening' || !carrierAnsweredBy(value)) return;
    const d = this.amd.carrier(value);
    if (d) this.decided(d.answeredBy, d.atMs);
  }

  private decided(answeredBy: AnsweredBy, atMs: number): void {
    if (this.verdict) return;
    this.verdict = { answeredBy, amdMs: atMs };
    this.host.deps.sink.update({ answeredBy, amdMs: atMs });
    this.host.deps.sink.event('state', { amd: answeredBy, atMs });
    if (answeredBy !== 'machine') {
      this.phase = 'done';
      this.proceed();
      return;
    }
    if (this.action === 'hangup' || !this.message) {
      this.phase = 'done';
      this.end('voicemail');
      return;
    }
    this.phase = 'awaiting_cue';
    this.warm(this.message);
    if (this.amd.messageCue) this.leaveMessage();
  }

  private leaveMessage(): void {
    this.phase = 'done';
    this.host.deps.sink.event('state', {
      voicemail: 'message',
      cue: this.amd.messageCue,
      atMs: Math.round(this.amd.audioMs),
    });
    this.end('voicemail', fillVariables(this.message!, this.host.variables), this.messageKey);
  }

  /** Synthesize a message without {{variables}} into the greeting cache now (a personal one is never cached). */
  private warm(message: string): void {
    if (hasVariables(message)) return;
    const { deps, assistantId } = this.host;
    try {
      const tts = deps.providers.tts(this.config.tts);
      const voice = this.config.tts?.voice;
      const key = greetingKey(assistantId, tts.id, voice, this.outFormat, message);
      const assistant = { id: assistantId, config: { firstMessage: message, tts: { voice } } };
      void warmGreeting(assistant, tts, [this.outFormat]).then((r) => {
        if (!r.error) this.messageKey = key;
      });
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, 'voicemail message not synthesized ahead');
    }
  }
}
