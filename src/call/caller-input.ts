import type { AssistantConfig, AssistantSettings } from '../assistant.js';
import type { Denoiser } from '../audio/denoise.js';
import { pcmFormat, sameFormat } from '../audio/format.js';
import type { AsrCapabilities, AsrEvent, AsrProvider, AsrStream } from '../providers/types.js';
import { ProviderError } from '../providers/types.js';
import type { MediaLeg } from '../telephony/leg.js';
import type { Incident, ProviderHooks, SessionDeps } from './deps.js';
import { ToneGuard } from './tone-guard.js';
import { finalizeHoldMs } from './turn-taking.js';
import { energyVadFactory, type VadLike } from './vad.js';

/**
 * The caller's audio on its way in, per 20 ms frame: DTMF tones masked (ToneGuard), the VAD's speech probability,
 * and the recognizer fed (the wire bytes when it takes the wire codec, else PCM16; a bounded backlog while its
 * stream opens). It owns the ASR stream (one reopen after a failure) and the VAD; what the audio means is the
 * turn-taking unit's business, told through `CallerInputEvents`. No allocation per frame beyond the ASR's own.
 */
export interface CallerInputEvents {
  /** Speech probability of one frame (after tone masking), starting at `atMs` (session clock), `frameMs` long. */
  onVoice(atMs: number, frameMs: number, p: number): void;
  /** A DTMF tone started on the line. */
  onTone(): void;
  onAsr(ev: AsrEvent): void;
  /**
   * The recognizer failed for good (`n` failures so far); the call goes on without it after the first reopen (the
   * caller is told once to use the keypad; DTMF keeps working).
   */
  onAsrFailed(n: number): void;
  /** The VAD is open; whether it rejects music and noise (VadLike.rejectsNoise). */
  onVadOpen?(v: { rejectsNoise: boolean; endLagMs: number }): void;
  /** A recognizer stream is open; what it does beyond transcripts. */
  onAsrOpen(capabilities: AsrCapabilities): void;
  incident(i: Incident | { kind: string; provider: string; code?: string; message: string; action?: string }): void;
}

const MAX_ASR_BACKLOG_FRAMES = 100; // 2 s of 20 ms frames kept while the ASR stream opens

export class CallerInput {
  private readonly leg: MediaLeg;
  private readonly deps: SessionDeps;
  private readonly hooks: ProviderHooks;
  private readonly events: CallerInputEvents;
  private readonly inRate: number;
  private asrProvider: AsrProvider | undefined;
  private asr: AsrStream | undefined;
  private asrBacklog: Uint8Array[] | undefined = [];
  private asrUsesWire = false;
  private asrFailures = 0;
  private closed = false;
  /** The call is ending: a failed recognizer is not reopened. */
  private ending = false;
  private pcmView: Uint8Array | undefined;
  /** DTMF tones kept from the VAD and ASR (8 kHz lines). */
  private readonly toneGuard: ToneGuard | undefined;
  private silencePcm = new Int16Array(160);
  private silenceWire = new Uint8Array(0);
  private vad: VadLike | undefined;
  /** RNNoise before the VAD and the ASR (settings.noiseSuppression); the ASR then takes PCM, not the wire codec. */
  private denoiser: Denoiser | undefined;
  /** Audio handed to the current recognizer stream (its backlog included), ms: its word times count from there. */
  private asrMs = 0;
  /** Session clock at the start of the recognizer's audio (latest frame's arrival minus asrMs). */
  private asrOrigin = 0;

  constructor(leg: MediaLeg, deps: SessionDeps, hooks: ProviderHooks, dtmfEnabled: boolean, events: CallerInputEvents) {
    this.leg = leg;
    this.deps = deps;
    this.hooks = hooks;
    this.events = events;
    this.inRate = leg.info.inboundFormat.sampleRate;
    this.toneGuard = this.inRate === 8000 && dtmfEnabled ? new ToneGuard() : undefined;
  }

  /** One inbound frame; `t` is the session clock at its arrival (the frame ends there). */
  frame(pcm: Int16Array, wire: Uint8Array, t: number): void {
    const frameMs = (pcm.length * 1000) / this.inRate;
    if (this.toneGuard?.push(pcm)) {
      // A key press on the line: silence for the VAD and the recognizer (the digit comes as a DTMF event).
      if (this.toneGuard.takeStarted()) this.events.onTone();
      pcm = this.silentPcm(pcm.length);
      wire = this.silentWire(wire.length);
    }
    if (this.denoiser) pcm = this.denoiser.process(pcm);
    if (this.vad) this.events.onVoice(t - frameMs, frameMs, this.vad.process(pcm));
    const bytes = this.asrUsesWire ? wire : this.pcmBytes(pcm);
    if (this.asr) this.asr.write(bytes);
    else if (this.asrBacklog && this.asrBacklog.length < MAX_ASR_BACKLOG_FRAMES)
      this.asrBacklog.push(Uint8Array.from(bytes));
    else return;
    this.asrMs += frameMs;
    this.asrOrigin = t - this.asrMs;
  }

  /** Session clock of a time in the recognizer's audio (its word times), ms. */
  asrAudioAt(streamMs: number): number {
    return this.asrOrigin + streamMs;
  }

  /** Ask the recognizer for its final now rather than after its own endpointing (Deepgram Finalize). */
  finalize(): void {
    this.asr?.finalize();
  }

  /** The call is ending: no reopen from now on. */
  markEnding(): void {
    this.ending = true;
  }

  async openAsr(config: AssistantConfig): Promise<void> {
    if (this.closed || this.ending) return;
    const info = this.leg.info;
    try {
      const provider = this.asrProvider ?? this.deps.providers.asr(config.asr, this.hooks);
      this.asrProvider = provider;
      if (config.settings?.noiseSuppression === true) this.denoiser ??= await this.loadDenoiser();
      this.asrUsesWire = !this.denoiser && provider.formats.some((f) => sameFormat(f, info.inboundFormat));
      const format = this.asrUsesWire ? info.inboundFormat : pcmFormat(this.inRate);
      const e = config.settings?.endpointing;
      const stream = await provider.open(
        {
          format,
          language: config.asr?.language ?? config.language,
          model: config.asr?.model,
          keyterms: config.asr?.keyterms,
          interimResults: true,
          endpointingMs: e?.minDelayMs ?? 250,
          utteranceEndMs: Math.max(1000, e?.maxDelayMs ?? 1500),
          finalizeDelayMs: finalizeHoldMs(config.settings),
          // Flux: eager end-of-turn events drive preemptive generation.
          eagerEndOfTurn: config.settings?.preemptiveGeneration !== false,
        },
        (ev) => this.onAsr(ev, config),
      );
      if (this.closed || this.ending) {
        await stream.close();
        return;
      }
      this.asr = stream;
      this.events.onAsrOpen(provider.capabilities ?? {});
      const backlog = this.asrBacklog;
      this.asrBacklog = undefined;
      if (backlog) for (const b of backlog) stream.write(b);
    } catch (err) {
      this.asrFailed(err, config);
    }
  }

  private onAsr(ev: AsrEvent, config: AssistantConfig): void {
    if (this.closed) return;
    if (ev.type === 'error') {
      if (ev.fatal) this.asrFailed(ev.error, config);
      else
        this.events.incident({
          kind: 'asr',
          provider: ev.error.provider,
          code: ev.error.code,
          action: 'retry',
          message: ev.error.message,
        });
      return;
    }
    if (ev.type === 'closed') {
      if (!this.ending && this.asr) this.asrFailed(new Error('ASR stream closed'), config);
      return;
    }
    this.events.onAsr(ev);
  }

  private asrFailed(err: unknown, config: AssistantConfig): void {
    this.asr = undefined;
    this.asrBacklog = undefined;
    this.asrFailures++;
    this.events.incident({
      kind: 'asr',
      provider: this.asrProvider?.id ?? config.asr?.provider ?? 'asr',
      code: err instanceof ProviderError ? err.code : undefined,
      action: 'failed',
      message: (err as Error)?.message ?? String(err),
    });
    if (this.closed || this.ending) return;
    if (this.asrFailures <= 1) {
      // One reopen (the registry already retried and fell back); then the call goes on without it.
      this.asrBacklog = [];
      this.asrMs = 0;
      void this.openAsr(config);
      return;
    }
    this.events.onAsrFailed(this.asrFailures);
  }

  /** RNNoise for this call; a failure to load it is logged and the call goes on without (never fails the ASR). */
  private async loadDenoiser(): Promise<Denoiser | undefined> {
    try {
      return await (await import('../audio/denoise.js')).createDenoiser(this.inRate);
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message, callId: this.leg.info.callId }, 'noise suppression off');
      return undefined;
    }
  }

  /** The VAD: `deps.createVad` when given, else per `settings.vad` (Silero-confirmed WebRTC by default). */
  async openVad(settings?: AssistantSettings): Promise<void> {
    const factory =
      this.deps.createVad ??
      (async (rate: number): Promise<VadLike> => {
        if (rate !== 8000 && rate !== 16000) return energyVadFactory(rate);
        if ((settings?.vad ?? 'silero') === 'silero') {
          try {
            const { createConfirmedVad } = await import('../audio/confirmed-vad.js');
            return await createConfirmedVad(rate);
          } catch (err) {
            this.deps.logger.warn(
              { err: (err as Error).message, callId: this.leg.info.callId },
              'Silero VAD unavailable; WebRTC VAD alone',
            );
          }
        }
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
      this.deps.logger.warn(
        { err: (err as Error).message, callId: this.leg.info.callId },
        'VAD unavailable; energy VAD used',
      );
      this.vad = await energyVadFactory(this.inRate);
    }
    this.events.onVadOpen?.({ rejectsNoise: this.vad.rejectsNoise === true, endLagMs: this.vad.endLagMs ?? 0 });
  }

  /** Release the recognizer (in the background: an offline one decodes its backlog) and the VAD. */
  close(): void {
    this.closed = true;
    const asr = this.asr;
    this.asr = undefined;
    this.asrBacklog = undefined;
    void asr?.close().catch(() => undefined);
    this.vad?.close?.();
    this.denoiser?.close();
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
}
