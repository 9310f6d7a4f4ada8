import type { LlmEvent } from '../providers/types.js';
import { type Completeness, sameWords } from './words.js';

/**
 * Preemptive generation: a reply's first LLM round started on the caller's words before endpointing commits the
 * turn. It only buffers what the model streams: nothing is spoken, nothing enters the history, no tool runs. At the
 * commit the reply adopts it when the committed words and the history it was started on match (its buffered events
 * are replayed, then the live stream goes on); otherwise, or when the caller goes on, it is aborted unheard.
 */
/**
 * Are the caller's words worth an LLM request before the commit? Not when they trail off. Not when they end in the
 * recognizer's interim without ending a sentence: the interim of the last words lags the audio, so its unpunctuated
 * end is often short of the final's ("Please try" for "Please try again."); a reply prepared on it is discarded at
 * the final and its LLM request spent for nothing (bench latency, realistic profile: the one discarded draft of 16).
 * An interim that ends a sentence ("?", ".", "!"), or words the final has given, are prepared on.
 */
export function worthPreparing(text: string, c: Completeness, interim: boolean): boolean {
  if (c === 'trailing' || c === 'empty') return false;
  return !interim || /[.?!]["'’”)\]]*$/u.test(text.trim());
}

export interface DraftContext<T> {
  /** The request's context (tools, knowledge), resolved once for the draft and reused by the reply. */
  context: Promise<T>;
  /** The LLM round, started once the context is in. */
  run(context: T, signal: AbortSignal): AsyncIterable<LlmEvent>;
}

export class Draft<T = unknown> {
  /** The caller's words it was started on. */
  readonly text: string;
  /** Session clock when the LLM request went out (undefined until then). */
  requestAt: number | undefined;
  readonly context: Promise<T>;
  private readonly ac = new AbortController();
  private readonly events: LlmEvent[] = [];
  private finished = false;
  private error: unknown;
  private wake: (() => void) | undefined;
  /** What it was started for: the history length before the caller's turn and the LLM provider. */
  private readonly key: { historyLength: number; llm: unknown };

  constructor(text: string, key: { historyLength: number; llm: unknown }, source: DraftContext<T>, now: () => number) {
    this.text = text;
    this.key = key;
    this.context = source.context;
    void this.pump(source, now);
  }

  get discarded(): boolean {
    return this.ac.signal.aborted;
  }

  /** Does the committed turn match: the same words, on the same history (plus that turn), with the same LLM? */
  matches(text: string, historyLength: number, llm: unknown): boolean {
    return (
      !this.discarded &&
      historyLength === this.key.historyLength + 1 &&
      llm === this.key.llm &&
      sameWords(text, this.text)
    );
  }

  discard(): void {
    if (this.discarded) return;
    this.ac.abort();
    this.finished = true;
    this.wake?.();
  }

  /** The buffered events, then the live ones; aborting `signal` (a barge-in) discards the draft. */
  async *stream(signal: AbortSignal): AsyncIterable<LlmEvent> {
    const onAbort = (): void => this.discard();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (let i = 0; ; ) {
        if (signal.aborted) return;
        if (i < this.events.length) {
          yield this.events[i++]!;
          continue;
        }
        if (this.error !== undefined) throw this.error;
        if (this.finished) return;
        await new Promise<void>((r) => {
          this.wake = r;
        });
        this.wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private async pump(source: DraftContext<T>, now: () => number): Promise<void> {
    const signal = this.ac.signal;
    try {
      const context = await source.context;
      if (signal.aborted) return;
      this.requestAt = now();
      for await (const ev of source.run(context, signal)) {
        if (signal.aborted) return;
        this.events.push(ev);
        this.wake?.();
      }
    } catch (err) {
      if (!signal.aborted) this.error = err ?? new Error('draft failed');
    } finally {
      this.finished = true;
      this.wake?.();
    }
  }
}
