/**
 * Voice activity for the session: a detector gives a speech probability per inbound frame; SpeechGate turns those
 * into onset / offset events with hysteresis, timed on the audio clock (ms of caller audio received), not the wall
 * clock, so replays at any speed give the same turns.
 */
export interface VadLike {
  /** Speech probability 0..1 for one frame of PCM16 at the rate given to the factory. */
  process(frame: Int16Array): number;
  close?(): void;
  /**
   * It tells speech from music and noise (a neural second stage): what it does not call speech is not a caller,
   * so words the recognizer makes of that audio are noise too.
   */
  readonly rejectsNoise?: boolean;
  /**
   * How late its probability falls below the gate's threshold after speech really ends (its decision window and
   * overhang), ms, measured on real speech: the gate reports the end that much earlier. Absent: 0.
   */
  readonly endLagMs?: number;
}

export type VadFactory = (sampleRate: number) => Promise<VadLike>;

/**
 * Energy detector: frame RMS in dBFS mapped to 0..1 (-50 dBFS -> 0, -30 dBFS -> 1). Deterministic and cheap; the
 * fallback when the WebRTC VAD cannot load, and what the scripted tests and the latency bench use.
 */
export class EnergyVad implements VadLike {
  process(frame: Int16Array): number {
    const n = frame.length;
    if (n === 0) return 0;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const s = frame[i]!;
      sum += s * s;
    }
    const rms = Math.sqrt(sum / n) / 32768;
    const db = rms > 0 ? 20 * Math.log10(rms) : -120;
    const p = (db + 50) / 20;
    return Math.min(1, Math.max(0, p));
  }
}

export const energyVadFactory: VadFactory = async () => new EnergyVad();

export interface SpeechGateOptions {
  /** Probability at or above which a frame counts as speech. */
  threshold: number;
  /** Speech must last this long before an onset is reported, ms (filters clicks). */
  onsetMs: number;
  /** Silence must last this long before an offset is reported, ms. */
  hangoverMs: number;
}

export interface SpeechGateEvents {
  /** `atMs`: audio time of the first speech frame of the run. */
  onSpeechStart(atMs: number): void;
  /** `atMs`: audio time just after the last speech frame; `speechMs`: length of the run. */
  onSpeechEnd(atMs: number, speechMs: number): void;
}

export class SpeechGate {
  speaking = false;
  /** Audio time of the current run's first speech frame (valid while a run is in progress). */
  runStartMs = 0;
  private lastSpeechEndMs = 0;
  private pendingStartMs = -1;
  private readonly opts: SpeechGateOptions;
  private readonly events: SpeechGateEvents;
  /** The detector's lag at the end of speech (VadLike.endLagMs), ms. */
  private endLagMs = 0;

  constructor(opts: SpeechGateOptions, events: SpeechGateEvents) {
    this.opts = opts;
    this.events = events;
  }

  /** The detector in use: its end-of-speech lag is taken off every reported end (never before the run's start). */
  setEndLag(ms: number): void {
    this.endLagMs = Math.max(0, ms);
  }

  /** One frame starting at audio time `atMs`, `frameMs` long, with speech probability `p`. */
  push(atMs: number, frameMs: number, p: number): void {
    const speech = p >= this.opts.threshold;
    if (speech) {
      this.lastSpeechEndMs = atMs + frameMs;
      if (!this.speaking) {
        if (this.pendingStartMs < 0) this.pendingStartMs = atMs;
        if (atMs + frameMs - this.pendingStartMs >= this.opts.onsetMs) {
          this.speaking = true;
          this.runStartMs = this.pendingStartMs;
          this.pendingStartMs = -1;
          this.events.onSpeechStart(this.runStartMs);
        }
      }
      return;
    }
    if (!this.speaking) {
      // A blip shorter than onsetMs followed by silence: forget it.
      if (this.pendingStartMs >= 0 && atMs - this.lastSpeechEndMs >= this.opts.hangoverMs) this.pendingStartMs = -1;
      return;
    }
    if (atMs + frameMs - this.lastSpeechEndMs >= this.opts.hangoverMs) {
      this.speaking = false;
      const end = Math.max(this.runStartMs + this.opts.onsetMs, this.lastSpeechEndMs - this.endLagMs);
      this.events.onSpeechEnd(end, end - this.runStartMs);
    }
  }

  /** Forget the run in progress without reporting its end (it was a DTMF tone, not speech). */
  cancelRun(): void {
    this.speaking = false;
    this.pendingStartMs = -1;
  }

  /** Voiced length of the run in progress counted from `fromMs` (to its last voiced frame; hangover excluded). */
  voicedSince(fromMs: number): number {
    return this.speaking ? this.lastSpeechEndMs - Math.max(this.runStartMs, fromMs) : 0;
  }

  /** Length of the run in progress at audio time `atMs`, ms (0 when not speaking). */
  speechMs(atMs: number): number {
    return this.speaking ? atMs - this.runStartMs : 0;
  }
}
