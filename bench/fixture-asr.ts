/**
 * A scripted streaming recognizer for a call fixture (fixtures/calls/*.json): it knows what the caller says and
 * when (the fixture's speech events, in ms of the recording) and hears it as a good cloud recognizer would, timed
 * on the audio it is written (its own clock: the bytes received), not on the wall clock:
 *  - an interim `interimAfterMs` into each utterance, then one every `interimEveryMs`, with the words said so far
 *    (in proportion to the utterance's audio heard);
 *  - during a long utterance, a final without speech_final every `finalEveryMs` (the words so far, as Deepgram
 *    closes a segment), so a caller who never pauses still gets finals;
 *  - the last words, with the utterance's punctuation, `finalAfterMs` after its end (speech_final).
 * Used by the replay test on scripted providers (test/cli/replay-scripted.test.ts).
 */
import { type AudioFormat, bytesPerMs, MULAW_8K, PCM_8K, PCM_16K } from '../src/audio/format.js';
import type { AsrCapabilities, AsrEvent, AsrOptions, AsrProvider, AsrStream, Timing } from '../src/providers/types.js';

export interface FixtureUtterance {
  text: string;
  startMs: number;
  endMs: number;
}

export interface FixtureAsrOptions {
  interimAfterMs?: number;
  interimEveryMs?: number;
  finalEveryMs?: number;
  finalAfterMs?: number;
}

export class FixtureAsr implements AsrProvider {
  readonly id = 'fixture-asr';
  readonly formats: readonly AudioFormat[] = [MULAW_8K, PCM_8K, PCM_16K];
  readonly capabilities: AsrCapabilities = { interim: true };
  constructor(
    private readonly utterances: readonly FixtureUtterance[],
    private readonly opts: FixtureAsrOptions = {},
  ) {}

  async open(options: AsrOptions, onEvent: (e: AsrEvent) => void): Promise<AsrStream> {
    return new FixtureAsrStream(this.utterances, options.format, onEvent, {
      interimAfterMs: this.opts.interimAfterMs ?? 300,
      interimEveryMs: this.opts.interimEveryMs ?? 250,
      finalEveryMs: this.opts.finalEveryMs ?? 5000,
      finalAfterMs: this.opts.finalAfterMs ?? 150,
    });
  }
}

class FixtureAsrStream implements AsrStream {
  readonly timing: Timing = {};
  private receivedMs = 0;
  /** The utterance in progress (index), the words of it delivered by finals, the next interim / final due. */
  private index = 0;
  private delivered = 0;
  private nextInterim: number;
  private nextFinal: number;
  private closed = false;
  private readonly perMs: number;

  constructor(
    private readonly utterances: readonly FixtureUtterance[],
    format: AudioFormat,
    private readonly onEvent: (e: AsrEvent) => void,
    private readonly o: Required<FixtureAsrOptions>,
  ) {
    this.perMs = bytesPerMs(format, 1);
    this.nextInterim = (utterances[0]?.startMs ?? 0) + o.interimAfterMs;
    this.nextFinal = (utterances[0]?.startMs ?? 0) + o.finalEveryMs;
  }

  write(audio: Uint8Array): void {
    if (this.closed) return;
    this.receivedMs += audio.byteLength / this.perMs;
    const t = this.receivedMs;
    for (let u = this.utterances[this.index]; u && !this.closed; u = this.utterances[this.index]) {
      const words = u.text.split(/\s+/).filter(Boolean);
      if (t >= u.endMs + this.o.finalAfterMs) {
        const text = words.slice(this.delivered).join(' ');
        this.onEvent({ type: 'final', text, words: [], speechFinal: true });
        this.index++;
        this.delivered = 0;
        const next = this.utterances[this.index];
        if (next) {
          this.nextInterim = next.startMs + this.o.interimAfterMs;
          this.nextFinal = next.startMs + this.o.finalEveryMs;
        }
        continue;
      }
      if (t < u.startMs) return;
      const said = Math.min(
        words.length,
        Math.floor(((t - u.startMs) / Math.max(1, u.endMs - u.startMs)) * words.length),
      );
      if (t >= this.nextFinal && said > this.delivered) {
        this.onEvent({
          type: 'final',
          text: words.slice(this.delivered, said).join(' '),
          words: [],
          speechFinal: false,
        });
        this.delivered = said;
        this.nextFinal = t + this.o.finalEveryMs;
      }
      if (t >= this.nextInterim) {
        const text = words.slice(this.delivered, Math.max(this.delivered + 1, said)).join(' ');
        if (text) this.onEvent({ type: 'partial', text, words: [] });
        this.nextInterim = t + this.o.interimEveryMs;
      }
      return;
    }
  }

  finalize(): void {}

  async close(): Promise<void> {
    this.closed = true;
  }
}
