/**
 * The ONE wrapper around providers (STYLE.md 2): connect and first-byte timeouts, retries with exponential backoff
 * and full jitter where safe, and per-assistant fallback chains (e.g. tts: elevenlabs -> openai -> offline).
 * Adapters only classify errors (ProviderError code / retryable); every decision is made here.
 *
 * Safety rules:
 * - auth / bad_request / unavailable are never retried (a fallback may still help);
 * - 429 waits Retry-After when the provider sends one (up to maxRetryAfterMs, else falls back at once);
 * - an LLM / TTS stream is never retried or switched after its first event reached the caller (the words or audio
 *   are already out: a retry would repeat them);
 * - every retry / fallback / failure is reported through onIncident so the call record can say what happened.
 */
import type { AudioChunk } from '../audio/format.js';
import type { Logger } from '../log.js';
import { abortedError, classify } from './classify.js';
import {
  type AsrEvent,
  type AsrOptions,
  type AsrProvider,
  type AsrStream,
  type EmbedProvider,
  type LlmEvent,
  type LlmProvider,
  type LlmRequest,
  ProviderError,
  type ProviderErrorCode,
  type ProviderKind,
  type Timing,
  type TtsProvider,
  type TtsRequest,
  type TtsTextStream,
} from './types.js';

export interface Incident {
  kind: ProviderKind;
  provider: string;
  code: ProviderErrorCode;
  /** adjusted: a setting outside the provider's range was clamped (attempt 0: before any request). */
  action: 'retry' | 'fallback' | 'failed' | 'adjusted';
  /** 1-based attempt number on this provider. */
  attempt: number;
  message: string;
}

export interface ProviderHooks {
  onIncident?: (info: Incident) => void;
}

export interface ResilienceOptions extends ProviderHooks {
  /** ASR open (WebSocket connect / process start), ms. */
  connectTimeoutMs?: number;
  /** Request sent -> first event for LLM / TTS, ms. */
  firstByteTimeoutMs?: number;
  /** Retries per provider (so attempts = maxRetries + 1). */
  maxRetries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A Retry-After longer than this falls back instead of waiting, ms. */
  maxRetryAfterMs?: number;
  logger?: Logger;
  random?: () => number;
}

type Required_ = Required<Omit<ResilienceOptions, 'onIncident' | 'logger'>> &
  Pick<ResilienceOptions, 'onIncident' | 'logger'>;

function withDefaults(o: ResilienceOptions): Required_ {
  return {
    connectTimeoutMs: o.connectTimeoutMs ?? 5000,
    firstByteTimeoutMs: o.firstByteTimeoutMs ?? 8000,
    maxRetries: o.maxRetries ?? 2,
    baseDelayMs: o.baseDelayMs ?? 200,
    maxDelayMs: o.maxDelayMs ?? 3000,
    maxRetryAfterMs: o.maxRetryAfterMs ?? 5000,
    random: o.random ?? Math.random,
    onIncident: o.onIncident,
    logger: o.logger,
  };
}

function report(o: Required_, info: Incident): void {
  o.logger?.warn({ incident: info }, 'provider incident');
  try {
    o.onIncident?.(info);
  } catch {
    // a broken hook must not break the call
  }
}

/** Wait ms; rejects with an aborted error when `signal` aborts. */
export function sleepAbortable(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Decide what to do after `err` on `attempt`: the delay before retrying, or undefined to move on. */
function retryDelay(o: Required_, err: ProviderError, attempt: number): number | undefined {
  if (!err.retryable || attempt > o.maxRetries) return undefined;
  if (err.retryAfterMs !== undefined) return err.retryAfterMs <= o.maxRetryAfterMs ? err.retryAfterMs : undefined;
  const cap = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(cap / 2 + (o.random() * cap) / 2); // "equal jitter": never 0, never more than the cap
}

/** Races `p` against a timer; on timeout calls onTimeout and rejects with a timeout ProviderError. */
function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => void, err: () => ProviderError): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) return p;
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(err());
    }, ms);
  });
  p.catch(() => {}); // the loser of the race must not become an unhandled rejection
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

interface StreamLink<T> {
  id: string;
  start(signal: AbortSignal, timing: Timing): AsyncIterable<T>;
}

/** Shared by LLM and TTS: run the chain, retrying / falling back only before the first event is delivered. */
async function* chainStream<T>(
  kind: ProviderKind,
  chain: StreamLink<T>[],
  signal: AbortSignal,
  timing: Timing,
  o: Required_,
): AsyncGenerator<T> {
  for (let p = 0; p < chain.length; p++) {
    const link = chain[p]!;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw abortedError(link.id, kind);
      const ctrl = new AbortController();
      const onAbort = () => ctrl.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      const it = link.start(ctrl.signal, timing)[Symbol.asyncIterator]();
      let delivered = false;
      let finished = false;
      try {
        const first = await withTimeout(
          it.next(),
          o.firstByteTimeoutMs,
          () => ctrl.abort(),
          () =>
            new ProviderError({
              provider: link.id,
              kind,
              code: 'timeout',
              message: `${link.id} ${kind}: no first byte in ${o.firstByteTimeoutMs} ms`,
            }),
        );
        if (first.done) {
          finished = true;
          return;
        }
        delivered = true;
        yield first.value;
        for (;;) {
          const r = await it.next();
          if (r.done) break;
          yield r.value;
        }
        finished = true;
        return;
      } catch (raw) {
        if (signal.aborted) throw abortedError(link.id, kind);
        const err = classify(raw, { provider: link.id, kind });
        if (err.code === 'aborted') throw err;
        const base = { kind, provider: link.id, code: err.code, attempt, message: err.message };
        if (delivered) {
          report(o, { ...base, action: 'failed' });
          throw err;
        }
        const delay = retryDelay(o, err, attempt);
        if (delay !== undefined) {
          report(o, { ...base, action: 'retry' });
          try {
            await sleepAbortable(delay, signal);
          } catch {
            throw abortedError(link.id, kind);
          }
          continue;
        }
        if (p < chain.length - 1) {
          report(o, { ...base, action: 'fallback' });
          break;
        }
        report(o, { ...base, action: 'failed' });
        throw err;
      } finally {
        signal.removeEventListener('abort', onAbort);
        if (!finished) {
          ctrl.abort();
          it.return?.(undefined)?.catch(() => {});
        }
      }
    }
  }
  throw new ProviderError({
    provider: 'none',
    kind,
    code: 'unavailable',
    message: `no ${kind} provider configured`,
    retryable: false,
  });
}

/* ---------------------------------------------------------------- LLM */

export function resilientLlm(chain: LlmProvider[], opts: ResilienceOptions = {}): LlmProvider {
  const o = withDefaults(opts);
  return {
    id: chain[0]?.id ?? 'none',
    stream(request: LlmRequest, signal: AbortSignal, timing: Timing = {}): AsyncIterable<LlmEvent> {
      return chainStream(
        'llm',
        chain.map((p) => ({ id: p.id, start: (s, t) => p.stream(request, s, t) })),
        signal,
        timing,
        o,
      );
    },
  };
}

/* ---------------------------------------------------------------- TTS */

class FallbackTextStream implements TtsTextStream {
  readonly timing: Timing = {};
  readonly audio: AsyncIterable<AudioChunk>;
  private text = '';
  private ended = false;
  private endWaiters: (() => void)[] = [];
  private closed = false;
  private readonly ctrl = new AbortController();
  /** Rejects firstByteTimeoutMs after end() if no audio came: a silent provider must not hang the turn. */
  private readonly deadline: Promise<never>;
  private expire: (err: ProviderError) => void = () => {};
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly inner: TtsTextStream,
    private readonly rest: TtsProvider[],
    private readonly request: Omit<TtsRequest, 'text'>,
    private readonly primaryId: string,
    signal: AbortSignal,
    private readonly o: Required_,
  ) {
    signal.addEventListener('abort', () => this.close(), { once: true });
    this.deadline = new Promise<never>((_, reject) => {
      this.expire = reject;
    });
    this.deadline.catch(() => {});
    this.audio = this.run();
  }

  pushText(text: string): void {
    if (this.closed || this.ended) return;
    this.text += text;
    this.inner.pushText(text);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.inner.end();
    const ms = this.o.firstByteTimeoutMs;
    if (ms > 0 && Number.isFinite(ms) && this.timing.firstByteAt === undefined) {
      this.timer = setTimeout(() => {
        this.expire(
          new ProviderError({
            provider: this.primaryId,
            kind: 'tts',
            code: 'timeout',
            message: `${this.primaryId} tts: no audio ${ms} ms after the end of the text`,
          }),
        );
      }, ms);
    }
    for (const w of this.endWaiters.splice(0)) w();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.ctrl.abort();
    this.inner.close();
    for (const w of this.endWaiters.splice(0)) w();
  }

  private async *run(): AsyncGenerator<AudioChunk> {
    let delivered = false;
    const it = this.inner.audio[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = it.next();
        const r = delivered ? await next : await Promise.race([next, this.deadline]);
        if (r.done) break;
        if (!delivered) {
          delivered = true;
          clearTimeout(this.timer);
        }
        Object.assign(this.timing, this.inner.timing);
        yield r.value;
      }
      Object.assign(this.timing, this.inner.timing);
      return;
    } catch (raw) {
      clearTimeout(this.timer);
      if (this.closed) return;
      if (!delivered) this.inner.close(); // a timed-out provider is abandoned
      const err = classify(raw, { provider: this.primaryId, kind: 'tts' });
      const base = { kind: 'tts' as const, provider: this.primaryId, code: err.code, attempt: 1, message: err.message };
      if (delivered || this.rest.length === 0) {
        report(this.o, { ...base, action: 'failed' });
        throw err;
      }
      report(this.o, { ...base, action: 'fallback' });
    }
    // Fallback: the rest of the chain takes the whole text once the caller has ended it.
    if (!this.ended) await new Promise<void>((resolve) => this.endWaiters.push(resolve));
    if (this.closed || !this.text.trim()) return;
    const request = { ...this.request, text: this.text };
    yield* chainStream(
      'tts',
      this.rest.map((p) => ({ id: p.id, start: (s, t) => p.synthesize(request, s, t) })),
      this.ctrl.signal,
      this.timing,
      this.o,
    );
  }
}

export function resilientTts(chain: TtsProvider[], opts: ResilienceOptions = {}): TtsProvider {
  const o = withDefaults(opts);
  const first = chain[0];
  const provider: TtsProvider = {
    id: first?.id ?? 'none',
    formats: first?.formats ?? [],
    synthesize(request: TtsRequest, signal: AbortSignal, timing: Timing = {}): AsyncIterable<AudioChunk> {
      return chainStream(
        'tts',
        chain.map((p) => ({ id: p.id, start: (s, t) => p.synthesize(request, s, t) })),
        signal,
        timing,
        o,
      );
    },
  };
  if (first?.openTextStream) {
    const open = first.openTextStream.bind(first);
    provider.openTextStream = (request, signal) =>
      new FallbackTextStream(open(request, signal), chain.slice(1), request, first.id, signal, o);
  }
  return provider;
}

/* ---------------------------------------------------------------- ASR */

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

export function resilientEmbed(provider: EmbedProvider, opts: ResilienceOptions = {}): EmbedProvider {
  const o = withDefaults(opts);
  return {
    id: provider.id,
    model: provider.model,
    dimensions: provider.dimensions,
    async embed(texts, signal) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await provider.embed(texts, signal);
        } catch (raw) {
          const err = classify(raw, { provider: provider.id, kind: 'embed' });
          if (err.code === 'aborted' || signal?.aborted) throw err;
          const delay = retryDelay(o, err, attempt);
          const base = { kind: 'embed' as const, provider: provider.id, code: err.code, attempt, message: err.message };
          if (delay === undefined) {
            report(o, { ...base, action: 'failed' });
            throw err;
          }
          report(o, { ...base, action: 'retry' });
          await sleepAbortable(delay, signal);
        }
      }
    },
  };
}
