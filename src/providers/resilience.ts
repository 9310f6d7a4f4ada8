/**
 * The ONE wrapper around providers (STYLE.md 2): connect and first-byte timeouts, retries with exponential backoff
 * and full jitter where safe, and per-assistant fallback chains (e.g. tts: elevenlabs -> openai -> offline).
 * Adapters only classify errors (ProviderError code / retryable); every decision is made here.
 *
 * Safety rules:
 * - auth / bad_request / unavailable are never retried (a fallback may still help);
 * - 429 waits Retry-After when the provider sends one (up to maxRetryAfterMs, else falls back at once);
 * - an LLM / TTS stream is never retried or switched after its first event reached the caller (the words or audio
 *   are already out: a retry would repeat them), except an incremental-text TTS stream (FallbackTextStream), whose
 *   text not yet spoken is known: that part goes on through the chain;
 * - every retry / fallback / failure is reported through onIncident so the call record can say what happened.
 */
import { type AudioChunk, bytesPerSample } from '../audio/format.js';
import type { Logger } from '../log.js';
import { backoffDelay, sleepAbortable } from '../retry.js';
import { abortedError, classify } from './classify.js';
import {
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

export type Required_ = Required<Omit<ResilienceOptions, 'onIncident' | 'logger'>> &
  Pick<ResilienceOptions, 'onIncident' | 'logger'>;

export function withDefaults(o: ResilienceOptions): Required_ {
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

export function report(o: Required_, info: Incident): void {
  o.logger?.warn({ incident: info }, 'provider incident');
  try {
    o.onIncident?.(info);
  } catch {
    // a broken hook must not break the call
  }
}

/** Decide what to do after `err` on `attempt`: the delay before retrying, or undefined to move on. */
export function retryDelay(o: Required_, err: ProviderError, attempt: number): number | undefined {
  if (!err.retryable || attempt > o.maxRetries) return undefined;
  if (err.retryAfterMs !== undefined) return err.retryAfterMs <= o.maxRetryAfterMs ? err.retryAfterMs : undefined;
  return backoffDelay(attempt, { baseMs: o.baseDelayMs, maxMs: o.maxDelayMs, jitter: 'equal', random: o.random });
}

/** Races `p` against a timer; on timeout calls onTimeout and rejects with a timeout ProviderError. */
export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => void, err: () => ProviderError): Promise<T> {
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

/** Speech time per word where a failed text stream gave no word timings (about 150 words a minute). */
const MS_PER_WORD = 400;

/**
 * A text stream with the chain behind it. Before its first audio a failed (or silent) stream hands the whole text
 * to the rest of the chain; after it (mid-reply) the text not yet spoken (the words after the last one the
 * provider aligned, else after an estimate of 400 ms per word of the audio delivered) goes to the whole chain's
 * per-request synthesize(), the primary's own HTTP route first, continuing the same audio (word timings shifted).
 * Either waits for end(): the fallback takes the rest of the text in one request.
 */
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
  /** Audio delivered (ms) and aligned words delivered: where a mid-reply fallback picks up. */
  private deliveredMs = 0;
  private alignedWords = 0;

  constructor(
    private readonly inner: TtsTextStream,
    private readonly chain: TtsProvider[],
    private readonly request: Omit<TtsRequest, 'text'>,
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

  private get primaryId(): string {
    return this.chain[0]!.id;
  }

  pushText(text: string): void {
    if (this.closed || this.ended) return;
    this.text += text;
    this.inner.pushText(text);
  }

  flush(): void {
    if (!this.closed && !this.ended) this.inner.flush?.();
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
        this.count(r.value);
        yield r.value;
      }
      Object.assign(this.timing, this.inner.timing);
      return;
    } catch (raw) {
      clearTimeout(this.timer);
      if (this.closed) return;
      this.inner.close(); // a failed or timed-out stream is abandoned
      const err = classify(raw, { provider: this.primaryId, kind: 'tts' });
      const base = { kind: 'tts' as const, provider: this.primaryId, code: err.code, attempt: 1, message: err.message };
      const rest = delivered ? this.chain : this.chain.slice(1);
      if (rest.length === 0) {
        report(this.o, { ...base, action: 'failed' });
        throw err;
      }
      report(this.o, { ...base, action: 'fallback' });
      // Fallback: the rest of the chain takes the text not yet spoken once the caller has ended it.
      if (!this.ended) await new Promise<void>((resolve) => this.endWaiters.push(resolve));
      if (this.closed) return;
      const text = delivered ? this.unspoken() : this.text;
      if (!text.trim()) return;
      const request = { ...this.request, text };
      const shiftMs = this.deliveredMs;
      const audio = chainStream(
        'tts',
        rest.map((p) => ({ id: p.id, start: (s, t) => p.synthesize(request, s, t) })),
        this.ctrl.signal,
        this.timing,
        this.o,
      );
      for await (const c of audio) yield shiftMs > 0 && c.words?.length ? shiftWords(c, shiftMs) : c;
    }
  }

  private count(c: AudioChunk): void {
    const samples = c.data.byteLength / bytesPerSample(c.format);
    this.deliveredMs += (samples * 1000) / c.format.sampleRate;
    if (c.words) this.alignedWords += c.words.length;
  }

  /** The words after those already spoken: the aligned ones, else an estimate from the audio delivered. */
  private unspoken(): string {
    const words = this.text.split(/\s+/).filter(Boolean);
    const spoken = this.alignedWords > 0 ? this.alignedWords : Math.floor(this.deliveredMs / MS_PER_WORD);
    return words.slice(Math.min(words.length, spoken)).join(' ');
  }
}

function shiftWords(c: AudioChunk, ms: number): AudioChunk {
  return {
    format: c.format,
    data: c.data,
    words: c.words!.map((w) => ({ word: w.word, startMs: w.startMs + ms, endMs: w.endMs + ms })),
  };
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
      new FallbackTextStream(open(request, signal), chain, request, signal, o);
  }
  return provider;
}

/* ---------------------------------------------------------------- ASR */

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
