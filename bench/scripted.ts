/**
 * In-process scripted providers with fixed, known latency, for the latency bench and the call-session tests. They
 * implement the real provider interfaces (src/providers/types.ts), so the session cannot tell them from the real
 * ones; what they "hear" and "say" is scripted:
 *  - ScriptedAsr finds speech segments in the audio it is written (energy), and for each segment emits the next
 *    scripted text: a partial `partialAfterMs` into the segment, a final `finalLatencyMs` after its end.
 *  - ScriptedLlm answers each request with a function of the messages, streaming words after `firstTokenMs`.
 *  - ScriptedTts returns a tone whose length follows the text, the first chunk after `firstByteMs`.
 */

import type { AsrConfig, LlmConfig, TtsConfig } from '../src/assistant.js';
import { type AudioChunk, type AudioFormat, MULAW_8K, PCM_16K, sameFormat } from '../src/audio/format.js';
import { linearToMulaw, mulawToLinear } from '../src/audio/g711.js';
import type { ProviderHooks, ProviderRegistryLike } from '../src/call/deps.js';
import {
  type AsrEvent,
  type AsrOptions,
  type AsrProvider,
  type AsrStream,
  type ChatMessage,
  type LlmEvent,
  type LlmProvider,
  type LlmRequest,
  ProviderError,
  type Timing,
  type TtsProvider,
  type TtsRequest,
} from '../src/providers/types.js';

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ProviderError({ provider: 'scripted', kind: 'llm', code: 'aborted', message: 'aborted' }));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new ProviderError({ provider: 'scripted', kind: 'llm', code: 'aborted', message: 'aborted' }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/* ------------------------------------------------------------------ ASR */

export interface AsrUtterance {
  text: string;
  /** Partial text (default: the first word). */
  partial?: string;
}

export interface ScriptedAsrOptions {
  /** Texts for successive speech segments; a segment past the end of the script is heard as "" (noise). */
  script: (string | AsrUtterance)[];
  /** Final arrives this long after the end of the segment's speech, ms. */
  finalLatencyMs?: number;
  /** Partial arrives this long after the segment's speech starts, ms. */
  partialAfterMs?: number;
  /** Silence that ends a segment, ms (the fake's own endpointing; below the session's). */
  segmentGapMs?: number;
  /** Frame RMS (dBFS) at and above which audio is speech. */
  thresholdDb?: number;
  /**
   * Instead of `script`: the final text of a segment from its length (ms), the partial being `partialText`. For
   * concurrent calls sharing one provider (the latency bench), where a script order would be ambiguous.
   */
  textFor?: (segmentMs: number) => string;
  partialText?: string;
  /**
   * Instead of `script`: what the caller is saying right now (the bench's caller knows), read at the onset of a
   * segment and for each interim (`final` false), and at its end for the final (`final` true: those words are
   * then delivered). For per-call providers fed real speech.
   */
  saying?: (final: boolean) => AsrUtterance | undefined;
  /** With `saying`: after the first interim, another one this often while the segment lasts (growing words), ms. */
  interimEveryMs?: number;
  /** Multiplies every latency (partial, final) per event: provider jitter (see bench/profiles.ts). */
  jitter?: () => number;
  /** Throw (fatal error event) after this many segments: ASR failure mid-call. */
  failAfterSegments?: number;
  formats?: AudioFormat[];
}

export class ScriptedAsr implements AsrProvider {
  readonly id = 'scripted-asr';
  readonly formats: readonly AudioFormat[];
  /** Shared across reopened streams: the script position survives a reconnect. */
  next = 0;
  opened = 0;
  readonly opts: Required<
    Omit<
      ScriptedAsrOptions,
      'failAfterSegments' | 'formats' | 'textFor' | 'partialText' | 'saying' | 'jitter' | 'interimEveryMs'
    >
  > &
    Pick<ScriptedAsrOptions, 'failAfterSegments' | 'textFor' | 'partialText' | 'saying' | 'jitter' | 'interimEveryMs'>;

  constructor(opts: ScriptedAsrOptions) {
    this.formats = opts.formats ?? [MULAW_8K, PCM_16K];
    this.opts = {
      script: opts.script,
      finalLatencyMs: opts.finalLatencyMs ?? 100,
      partialAfterMs: opts.partialAfterMs ?? 80,
      segmentGapMs: opts.segmentGapMs ?? 100,
      thresholdDb: opts.thresholdDb ?? -40,
      failAfterSegments: opts.failAfterSegments,
      textFor: opts.textFor,
      partialText: opts.partialText,
      saying: opts.saying,
      jitter: opts.jitter,
      interimEveryMs: opts.interimEveryMs,
    };
  }

  async open(options: AsrOptions, onEvent: (e: AsrEvent) => void): Promise<AsrStream> {
    this.opened++;
    return new ScriptedAsrStream(this, options.format, onEvent);
  }

  take(): AsrUtterance | undefined {
    const s = this.opts.script[this.next++];
    if (s === undefined) return undefined;
    return typeof s === 'string' ? { text: s } : s;
  }
}

class ScriptedAsrStream implements AsrStream {
  readonly timing: Timing = {};
  private inSpeech = false;
  private speechStartAt = 0;
  private lastSpeechAt = 0;
  private segments = 0;
  private partialTimer: NodeJS.Timeout | undefined;
  private utt: AsrUtterance | undefined;
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly p: ScriptedAsr,
    private readonly format: AudioFormat,
    private readonly onEvent: (e: AsrEvent) => void,
  ) {}

  write(audio: Uint8Array): void {
    if (this.closed) return;
    const now = performance.now();
    const loud = frameDb(audio, this.format) >= this.p.opts.thresholdDb;
    const frameMs = (audio.byteLength / (this.format.encoding === 'pcm16' ? 2 : 1) / this.format.sampleRate) * 1000;
    if (loud) {
      if (!this.inSpeech) {
        this.inSpeech = true;
        this.speechStartAt = now - frameMs;
        this.utt = this.p.opts.saying
          ? this.p.opts.saying(false)
          : this.p.opts.textFor
            ? { text: 'pending', partial: this.p.opts.partialText ?? 'hold on' }
            : this.p.take();
        this.onEvent({ type: 'speech_started' });
        const utt = this.utt;
        if (utt?.text) {
          const interim = (): void => {
            // A caller who is known: the words said so far; else the scripted partial.
            const now = this.p.opts.saying?.(false) ?? utt;
            const partial = now.partial ?? now.text.split(' ')[0]!;
            if (partial) this.onEvent({ type: 'partial', text: partial, words: [] });
            const every = this.p.opts.interimEveryMs;
            if (every && this.p.opts.saying) this.partialTimer = this.later(every * this.jitter(), interim);
          };
          this.partialTimer = this.later(this.p.opts.partialAfterMs * this.jitter() - frameMs, interim);
        }
      }
      this.lastSpeechAt = now;
      return;
    }
    if (this.inSpeech && now - this.lastSpeechAt >= this.p.opts.segmentGapMs) {
      this.inSpeech = false;
      if (this.partialTimer) clearTimeout(this.partialTimer);
      let utt = this.utt;
      this.utt = undefined;
      this.segments++;
      if (this.p.opts.saying) utt = this.p.opts.saying(true) ?? utt;
      else if (this.p.opts.textFor) utt = { text: this.p.opts.textFor(this.lastSpeechAt - this.speechStartAt) };
      const fail = this.p.opts.failAfterSegments !== undefined && this.segments > this.p.opts.failAfterSegments;
      // lastSpeechAt is the arrival of the last loud frame: its audio ended then.
      const wait = this.lastSpeechAt + this.p.opts.finalLatencyMs * this.jitter() - now;
      this.later(wait, () => {
        if (fail) {
          this.onEvent({
            type: 'error',
            fatal: true,
            error: new ProviderError({
              provider: this.p.id,
              kind: 'asr',
              code: 'connection',
              message: 'scripted ASR connection lost',
            }),
          });
          this.closed = true;
          return;
        }
        this.onEvent({ type: 'final', text: utt?.text ?? '', words: [], speechFinal: true });
      });
    }
  }

  finalize(): void {}

  private jitter(): number {
    return this.p.opts.jitter?.() ?? 1;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(
      () => {
        this.timers.delete(t);
        if (!this.closed) fn();
      },
      Math.max(0, ms),
    );
    this.timers.add(t);
    return t;
  }
}

function frameDb(audio: Uint8Array, f: AudioFormat): number {
  let sum = 0;
  let n = 0;
  if (f.encoding === 'mulaw') {
    for (let i = 0; i < audio.length; i++) {
      const s = mulawToLinear(audio[i]!);
      sum += s * s;
    }
    n = audio.length;
  } else {
    const dv = new DataView(audio.buffer, audio.byteOffset, audio.byteLength);
    n = audio.byteLength >> 1;
    for (let i = 0; i < n; i++) {
      const s = dv.getInt16(i * 2, true);
      sum += s * s;
    }
  }
  if (n === 0) return -120;
  const rms = Math.sqrt(sum / n) / 32768;
  return rms > 0 ? 20 * Math.log10(rms) : -120;
}

/* ------------------------------------------------------------------ LLM */

export type ScriptedStep = { text: string } | { tool: string; args?: Record<string, unknown> };

export interface ScriptedLlmOptions {
  /** The reply to a request: steps in order (text streamed word by word, tool calls). */
  respond: (messages: ChatMessage[], req: LlmRequest) => ScriptedStep[];
  firstTokenMs?: number;
  /** Between words, ms. */
  tokenIntervalMs?: number;
  /** Throw on these request numbers (1-based): LLM failure mid-call. */
  failOnRequests?: number[];
  /** Multiplies firstTokenMs per request: provider jitter. */
  jitter?: () => number;
}

export class ScriptedLlm implements LlmProvider {
  readonly id = 'scripted-llm';
  requests: LlmRequest[] = [];
  /** The first-token delay of the last request, ms (with jitter). */
  lastFirstTokenMs = 0;
  private readonly opts: Required<Omit<ScriptedLlmOptions, 'failOnRequests' | 'jitter'>> & {
    failOnRequests: number[];
    jitter?: () => number;
  };

  constructor(opts: ScriptedLlmOptions) {
    this.opts = { firstTokenMs: 200, tokenIntervalMs: 5, failOnRequests: [], ...opts };
  }

  async *stream(request: LlmRequest, signal: AbortSignal, timing?: Timing): AsyncIterable<LlmEvent> {
    this.requests.push({ ...request, messages: request.messages.map((m) => ({ ...m })) });
    const n = this.requests.length;
    if (timing) timing.requestSentAt = performance.now();
    this.lastFirstTokenMs = this.opts.firstTokenMs * (this.opts.jitter?.() ?? 1);
    await sleep(this.lastFirstTokenMs, signal);
    if (this.opts.failOnRequests.includes(n)) {
      throw new ProviderError({
        provider: this.id,
        kind: 'llm',
        code: 'server',
        status: 500,
        message: 'scripted LLM failure',
      });
    }
    if (timing) timing.firstByteAt = performance.now();
    // Structured-output / summary requests after the call: answer with what the schema wants, if scripted.
    const steps = this.opts.respond(request.messages, request);
    let callN = 0;
    for (const step of steps) {
      if ('text' in step) {
        const words = step.text.split(/(?<= )/);
        for (let i = 0; i < words.length; i++) {
          if (i > 0 && this.opts.tokenIntervalMs > 0) await sleep(this.opts.tokenIntervalMs, signal);
          yield { type: 'text', delta: words[i]! };
        }
      } else {
        yield {
          type: 'tool_call',
          call: { id: `call_${n}_${++callN}`, name: step.tool, arguments: JSON.stringify(step.args ?? {}) },
        };
      }
    }
    yield { type: 'done', finishReason: steps.some((s) => 'tool' in s) ? 'tool_calls' : 'stop' };
  }
}

/** The last user message of a request. */
export function lastUser(messages: ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role === 'user') return m.content;
    if (m.role === 'tool') return '';
  }
  return '';
}

/** The last tool result of a request, when the model is being called back after a tool. */
export function lastToolResult(messages: ChatMessage[]): string | undefined {
  const m = messages[messages.length - 1];
  return m?.role === 'tool' ? m.content : undefined;
}

/* ------------------------------------------------------------------ TTS */

export interface ScriptedTtsOptions {
  firstByteMs?: number;
  /** Audio length per character of text, ms. */
  msPerChar?: number;
  /** Chunk length, ms. */
  chunkMs?: number;
  /** Fail (throw) on these request numbers (1-based). */
  failOnRequests?: number[];
  id?: string;
  /** Multiplies firstByteMs per request: provider jitter. */
  jitter?: () => number;
}

export class ScriptedTts implements TtsProvider {
  readonly id: string;
  readonly formats: readonly AudioFormat[] = [MULAW_8K, PCM_16K];
  readonly texts: string[] = [];
  /** The first-byte delay of the last request, ms (with jitter). */
  lastFirstByteMs = 0;
  private readonly opts: Required<Omit<ScriptedTtsOptions, 'id' | 'jitter'>> & { jitter?: () => number };

  constructor(opts: ScriptedTtsOptions = {}) {
    this.id = opts.id ?? 'scripted-tts';
    this.opts = { firstByteMs: 80, msPerChar: 20, chunkMs: 100, failOnRequests: [], ...opts };
  }

  async *synthesize(request: TtsRequest, signal: AbortSignal, timing?: Timing): AsyncIterable<AudioChunk> {
    this.texts.push(request.text);
    const n = this.texts.length;
    if (timing) timing.requestSentAt = performance.now();
    this.lastFirstByteMs = this.opts.firstByteMs * (this.opts.jitter?.() ?? 1);
    await sleep(this.lastFirstByteMs, signal);
    if (this.opts.failOnRequests.includes(n)) {
      throw new ProviderError({
        provider: this.id,
        kind: 'tts',
        code: 'server',
        status: 503,
        message: 'scripted TTS failure',
      });
    }
    if (timing) timing.firstByteAt = performance.now();
    const format = this.formats.find((f) => sameFormat(f, request.format)) ?? PCM_16K;
    const totalMs = Math.max(100, request.text.length * this.opts.msPerChar);
    const rate = format.sampleRate;
    let phase = 0;
    for (let t = 0; t < totalMs; t += this.opts.chunkMs) {
      if (signal.aborted) return;
      const samples = Math.round((Math.min(this.opts.chunkMs, totalMs - t) * rate) / 1000);
      const data = new Uint8Array(samples * (format.encoding === 'pcm16' ? 2 : 1));
      const dv = new DataView(data.buffer);
      for (let i = 0; i < samples; i++) {
        // 440 Hz at -12 dBFS: clearly "the agent" on the right channel of a recording.
        const s = Math.round(Math.sin(phase) * 8000);
        phase += (2 * Math.PI * 440) / rate;
        if (format.encoding === 'pcm16') dv.setInt16(i * 2, s, true);
        else data[i] = linearToMulaw(s);
      }
      yield { format, data };
      // Yield to the event loop between chunks, as a network stream would.
      await new Promise<void>((r) => setImmediate(r));
    }
  }
}

/* ------------------------------------------------------------------ registry */

export interface ScriptedProviders {
  asr: AsrProvider;
  llm: LlmProvider;
  tts: TtsProvider;
  /** Fallbacks used when the primary throws (tests of fallback chains). */
  ttsFallback?: TtsProvider;
}

/**
 * A ProviderRegistryLike over fixed providers. With `ttsFallback`, TTS failures of the primary fall back to it and
 * an incident is reported through the hooks, as the real registry's resilience wrapper does.
 */
export function scriptedRegistry(p: ScriptedProviders): ProviderRegistryLike {
  return {
    asr: (_c: AsrConfig | undefined) => p.asr,
    llm: (_c: LlmConfig | undefined) => p.llm,
    tts: (_c: TtsConfig | undefined, hooks?: ProviderHooks) => {
      const fb = p.ttsFallback;
      if (!fb) return p.tts;
      return {
        id: p.tts.id,
        formats: p.tts.formats,
        async *synthesize(req, signal, timing) {
          let started = false;
          try {
            for await (const c of p.tts.synthesize(req, signal, timing)) {
              started = true;
              yield c;
            }
          } catch (err) {
            if (started || signal.aborted) throw err;
            hooks?.onIncident?.({
              kind: 'tts',
              provider: p.tts.id,
              code: err instanceof ProviderError ? err.code : 'server',
              action: 'fallback',
              attempt: 1,
              message: (err as Error).message,
            });
            yield* fb.synthesize(req, signal, timing);
          }
        },
      } satisfies TtsProvider;
    },
  };
}
