/**
 * The audio of one streamed utterance, between a socket's message handler (push / finish) and the one consumer that
 * iterates it. Unbounded only in principle: a provider sends at most the utterance's audio. An `aborted` finish
 * (barge-in) ends the iteration quietly; any other failure is thrown to the consumer after the audio before it.
 */
import type { AudioChunk } from '../../audio/format.js';
import type { ProviderError } from '../types.js';

export class ChunkQueue implements AsyncIterable<AudioChunk> {
  private readonly chunks: AudioChunk[] = [];
  private failure: ProviderError | undefined;
  private wake: (() => void) | undefined;
  done = false;

  push(chunk: AudioChunk): void {
    if (this.done) return;
    this.chunks.push(chunk);
    this.wake?.();
  }

  /** Ends the utterance (with `err`: after the audio already queued). Idempotent: the first call wins. */
  finish(err?: ProviderError): void {
    if (this.done) return;
    this.failure = err;
    this.done = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<AudioChunk> {
    for (;;) {
      while (this.chunks.length) yield this.chunks.shift()!;
      if (this.done) {
        while (this.chunks.length) yield this.chunks.shift()!;
        if (this.failure && this.failure.code !== 'aborted') throw this.failure;
        return;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}
