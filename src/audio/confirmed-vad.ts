import type { SileroStream } from './silero.js';
import type { Vad } from './vad.js';

/**
 * Two-stage voice activity: WebRTC's VAD (cheap, every frame) finds candidate speech; Silero (a neural model that
 * tells speech from music and noise) decides, and runs only while WebRTC hears something. WebRTC alone takes music
 * on hold for speech (the agent stopped at the first bar of music, the recognizer then made words of it); Silero
 * alone costs ~1 % of a core per call for every frame of the call.
 *
 *   frame ─▶ WebRTC p ──(any voiced 10 ms in its window)──▶ Silero on: warm-up over the last WARMUP_CHUNKS chunks,
 *                                                           then every 32 ms chunk
 *          ─▶ out: Silero's probability while it runs, else 0
 *   WebRTC quiet for IDLE_MS ──▶ Silero off (its state is dropped; the next candidate starts fresh)
 *
 * The probability lags the audio by one frame at most (Silero's result comes back asynchronously, well under a
 * millisecond after its chunk). Per frame: no allocation here (the Silero stream keeps its ring, input buffer and
 * tensors); each 32 ms inference gets onnxruntime's small output tensors.
 */
export interface ConfirmedVadOptions {
  /** WebRTC quiet this long stops Silero, ms. */
  idleMs?: number;
  /** Chunks (32 ms) of audio from before the candidate that Silero runs over first. */
  warmupChunks?: number;
}

const IDLE_MS = 400;
const WARMUP_CHUNKS = 6;

export class ConfirmedVad {
  /** Music and noise are not speech to it (see VadLike.rejectsNoise in src/call/vad.ts). */
  readonly rejectsNoise = true;
  /**
   * Silero's probability falls under 0.5 this long after speech ends (its 32 ms chunks, the result a frame later,
   * the decay of its state), ms: median 70 (spread -40 to 200) on 8 real prompts over a phone line (mu-law, -50 dBFS
   * line noise, the call's SpeechGate), taken a little under it. The gate reports the end this much earlier.
   */
  readonly endLagMs = 60;
  /** Audio Silero ran over, and audio the first stage offered, ms (the share is the cost saved). */
  checkedMs = 0;
  heardMs = 0;
  private readonly first: Vad;
  private readonly second: SileroStream;
  private readonly idleMs: number;
  private readonly warmup: number;
  private quietMs = 0;
  private readonly rate: number;

  constructor(first: Vad, second: SileroStream, sampleRate: number, opts: ConfirmedVadOptions = {}) {
    this.first = first;
    this.second = second;
    this.rate = sampleRate;
    this.idleMs = opts.idleMs ?? IDLE_MS;
    this.warmup = opts.warmupChunks ?? WARMUP_CHUNKS;
  }

  /** Speech probability of this frame (PCM16, a multiple of 10 ms). */
  process(frame: Int16Array): number {
    const p = this.first.process(frame);
    const ms = (frame.length * 1000) / this.rate;
    const s = this.second;
    s.push(frame);
    if (p > 0) {
      this.quietMs = 0;
      this.heardMs += ms;
      if (!s.active) s.start(this.warmup);
    } else if (s.active) {
      this.quietMs += ms;
      if (this.quietMs >= this.idleMs) s.stop();
    }
    if (!s.active) return 0;
    this.checkedMs += ms;
    return s.prob;
  }

  /** Resolves once the second stage has caught up with the audio given so far (tests, the bench). */
  settled(): Promise<void> {
    return this.second.settled();
  }

  close(): void {
    this.first.close?.();
    this.second.close();
  }
}

/** WebRTC VAD confirmed by Silero, at 8 or 16 kHz; both models load once per process. */
export async function createConfirmedVad(sampleRate: 8000 | 16000, opts?: ConfirmedVadOptions): Promise<ConfirmedVad> {
  const [{ createVad }, { createSileroStream }] = await Promise.all([import('./vad.js'), import('./silero.js')]);
  const [first, second] = await Promise.all([createVad({ sampleRate }), createSileroStream(sampleRate)]);
  return new ConfirmedVad(first, second, sampleRate, opts);
}
