/**
 * The ASR side of the provider wrapper (src/providers/resilience.ts holds the policy and the LLM / TTS side): a
 * streaming recognizer chain that opens the first provider that works, retries where safe, and on a mid-call
 * failure switches to the next one with the audio of the gap replayed, so the caller's words are not lost.
 */
import { sleepAbortable } from '../retry.js';
import { abortedError, classify } from './classify.js';
import { type Required_, type ResilienceOptions, report, retryDelay, withDefaults, withTimeout } from './resilience.js';
import {
  type AsrEvent,
  type AsrOptions,
  type AsrProvider,
  type AsrStream,
  ProviderError,
  type Timing,
} from './types.js';

/** Bound of audio held while switching provider: 10 s of 16 kHz PCM16. Older audio is dropped first. */
const FAILOVER_BUFFER_BYTES = 320_000;

class FallbackAsrStream implements AsrStream {
  private readonly idleTiming: Timing = {};
  /** The current provider's marks (request sent, first result, done). */
  get timing(): Timing {
    return this.current?.timing ?? this.idleTiming;
  }
  private current: AsrStream | undefined;
  private index = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private switching = false;
  private closed = false;

  constructor(
    private readonly chain: AsrProvider[],
    private readonly options: AsrOptions,
    private readonly onEvent: (e: AsrEvent) => void,
    private readonly signal: AbortSignal | undefined,
    private readonly o: Required_,
  ) {}

  /** Opens the first provider of the chain that works (retrying each where safe). */
  async start(from: number): Promise<void> {
    for (let p = from; p < this.chain.length; p++) {
      const provider = this.chain[p]!;
      for (let attempt = 1; ; attempt++) {
        if (this.signal?.aborted || this.closed) throw abortedError(provider.id, 'asr');
        const ctrl = new AbortController();
        const onAbort = () => ctrl.abort();
        this.signal?.addEventListener('abort', onAbort, { once: true });
        try {
          const opened = provider.open(this.options, (e) => this.handle(p, e), ctrl.signal);
          const stream = await withTimeout(
            opened,
            this.o.connectTimeoutMs,
            () => {
              ctrl.abort();
              opened.then((s) => s.close()).catch(() => {});
            },
            () =>
              new ProviderError({
                provider: provider.id,
                kind: 'asr',
                code: 'timeout',
                message: `${provider.id} asr: no connection in ${this.o.connectTimeoutMs} ms`,
              }),
          );
          this.current = stream;
          this.index = p;
          return;
        } catch (raw) {
          const err = classify(raw, { provider: provider.id, kind: 'asr' });
          if (err.code === 'aborted' || this.signal?.aborted) throw err;
          const base = { kind: 'asr' as const, provider: provider.id, code: err.code, attempt, message: err.message };
          const delay = retryDelay(this.o, err, attempt);
          if (delay !== undefined) {
            report(this.o, { ...base, action: 'retry' });
            await sleepAbortable(delay, this.signal).catch(() => {
              throw abortedError(provider.id, 'asr');
            });
            continue;
          }
          if (p < this.chain.length - 1) {
            report(this.o, { ...base, action: 'fallback' });
            break;
          }
          report(this.o, { ...base, action: 'failed' });
          throw err;
        } finally {
          this.signal?.removeEventListener('abort', onAbort);
        }
      }
    }
    throw new ProviderError({
      provider: 'none',
      kind: 'asr',
      code: 'unavailable',
      message: 'no asr provider configured',
      retryable: false,
    });
  }

  private handle(from: number, e: AsrEvent): void {
    if (from !== this.index && this.current) return; // a stale provider after a switch
    if (e.type === 'error' && e.fatal && !this.closed && from < this.chain.length - 1) {
      report(this.o, {
        kind: 'asr',
        provider: this.chain[from]!.id,
        code: e.error.code,
        action: 'fallback',
        attempt: 1,
        message: e.error.message,
      });
      this.failover(from + 1);
      return;
    }
    if (e.type === 'closed' && this.switching) return;
    if (e.type === 'error' && e.fatal)
      report(this.o, {
        kind: 'asr',
        provider: this.chain[from]!.id,
        code: e.error.code,
        action: 'failed',
        attempt: 1,
        message: e.error.message,
      });
    this.onEvent(e);
  }

  private failover(next: number): void {
    const old = this.current;
    this.current = undefined;
    this.switching = true;
    old?.close().catch(() => {});
    this.start(next).then(
      () => {
        this.switching = false;
        const stream = this.current as AsrStream | undefined;
        for (const buf of this.pending.splice(0)) stream?.write(buf);
        this.pendingBytes = 0;
        if (this.closed) stream?.close().catch(() => {});
      },
      (err: unknown) => {
        this.switching = false;
        this.onEvent({
          type: 'error',
          error: classify(err, { provider: this.chain[next]?.id ?? 'none', kind: 'asr' }),
          fatal: true,
        });
        this.onEvent({ type: 'closed' });
      },
    );
  }

  write(audio: Uint8Array): void {
    if (this.closed) return;
    if (this.current) {
      this.current.write(audio);
      return;
    }
    this.pending.push(audio.slice());
    this.pendingBytes += audio.length;
    while (this.pendingBytes > FAILOVER_BUFFER_BYTES && this.pending.length > 1)
      this.pendingBytes -= this.pending.shift()!.length;
  }

  finalize(): void {
    this.current?.finalize();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.current?.close();
  }
}

export function resilientAsr(chain: AsrProvider[], opts: ResilienceOptions = {}): AsrProvider {
  const o = withDefaults(opts);
  return {
    id: chain[0]?.id ?? 'none',
    formats: chain[0]?.formats ?? [],
    capabilities: chain[0]?.capabilities,
    async open(options, onEvent, signal) {
      const stream = new FallbackAsrStream(chain, options, onEvent, signal, o);
      await stream.start(0);
      return stream;
    },
  };
}

/* ---------------------------------------------------------------- Embeddings */
