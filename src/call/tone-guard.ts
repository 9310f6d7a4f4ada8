import { DtmfDetector } from '../audio/dtmf.js';

/**
 * Keeps DTMF tones away from the VAD and the recognizer: a key press is loud and sustained, so the VAD takes it
 * for speech (a false barge-in) and the recognizer turns it into a word ("i", "three"). While a tone is on the line
 * (from the detector's digit start to its end, plus a short tail for the detector's decision delay) the session
 * feeds silence to both instead. The digit itself still arrives as a DTMF event (protocol or in-band detection).
 * 8 kHz only, like the detector; one Goertzel bank per call, no allocation per frame.
 */
const TAIL_MS = 60;

export class ToneGuard {
  private readonly detector: DtmfDetector;
  private tone = false;
  private holdUntilMs = -1;
  private audioMs = 0;
  /** A tone started since the last call to takeStarted(). */
  private started = false;

  constructor() {
    this.detector = new DtmfDetector({
      onDigitStart: () => {
        this.tone = true;
        this.started = true;
      },
      onDigit: () => {
        this.tone = false;
        this.holdUntilMs = this.audioMs + TAIL_MS;
      },
    });
  }

  /** Feed one 8 kHz frame; returns true when this frame should be replaced by silence. */
  push(pcm: Int16Array): boolean {
    this.detector.push(pcm);
    this.audioMs += pcm.length / 8;
    return this.tone || this.audioMs <= this.holdUntilMs;
  }

  takeStarted(): boolean {
    const s = this.started;
    this.started = false;
    return s;
  }
}
