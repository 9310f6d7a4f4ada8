/**
 * ElevenLabs text-streaming WebSockets (the SDK does not wrap them; spoken with `ws` per the documented protocol).
 *
 *   stream-input        /v1/text-to-speech/{voice}/stream-input        one socket = one utterance
 *   multi-stream-input  /v1/text-to-speech/{voice}/multi-stream-input  one socket per call, one context per utterance
 *
 *   client                                            server
 *   {text:" ", voice_settings, generation_config} ->            (first message of a context: its settings)
 *   {text:"Hello there. ", flush:true}             -> <- {audio, alignment}        (text ends with one space;
 *   ...                                                                              flush at each clause end)
 *   single: {text:""}  multi: {flush} {close_context} <- {isFinal:true}            (end of the utterance)
 *   barge-in, multi: {close_context}: the server stops that context, the socket (and its warm connection) stays.
 *
 * Multi-context messages carry `context_id` (server: `contextId`). Auth: the `xi-api-key` upgrade header. The server
 * closes with 1008 for several reasons, named by an error frame before the close or the close reason:
 * invalid key (auth), quota_exceeded (quota), input_timeout_exceeded (no text for `inactivity_timeout` s),
 * max_active_conversations, internal errors and changed settings; only the first two are not worth a retry.
 */
import WebSocket from 'ws';
import { type AudioFormat, bytesPerMs } from '../../audio/format.js';
import { abortedError, classify, isQuota, scrub, upgradeRejection } from '../classify.js';
import { ProviderError, type ProviderErrorCode, type Timing, type TtsTextStream } from '../types.js';
import { WordAssembler, wsAlignment } from './alignment.js';
import { ChunkQueue } from './chunk-queue.js';

export interface ElevenLabsWsSettings {
  apiKey: string;
  /** ws(s)://host */
  base: string;
  voice: string;
  query: URLSearchParams;
  format: AudioFormat;
  voiceSettings: Record<string, unknown>;
  /** generation_config.chunk_length_schedule (each 50-500 characters). */
  chunkLengthSchedule: number[];
}

/** ElevenLabs error / close reason -> our error class. Auth and quota only when the service says so. */
export function elevenLabsSocketError(closeCode: number, text: string, apiKey: string): ProviderError {
  const why = scrub(text, [apiKey]).slice(0, 300);
  let code: ProviderErrorCode = 'connection';
  if (isQuota(why)) code = 'quota';
  else if (/invalid_api_key|unauthori[sz]ed|auth_error|invalid.*(api key|authorization)/i.test(why)) code = 'auth';
  else if (/max_active_conversations|too_many_concurrent|rate_limit/i.test(why)) code = 'rate_limited';
  else if (/internal|server_error/i.test(why) || closeCode === 1011) code = 'server';
  // input_timeout_exceeded, changed voice settings, anything else: the next socket may well work
  return new ProviderError({
    provider: 'elevenlabs',
    kind: 'tts',
    code,
    message: `elevenlabs tts: socket closed (${closeCode}) ${why}`.trim(),
  });
}

const CLAUSE_END = /[.!?;:]["')\]]*\s*$/;

/** One utterance: text in, audio (with word timings) out. */
export class ContextStream implements TtsTextStream {
  readonly timing: Timing = {};
  readonly audio = new ChunkQueue();
  private pending = '';
  private began = false;
  private ended = false;
  /** Text sent since the last flush. */
  private unflushed = false;
  /** Audio of this utterance so far, ms: word times are relative to its start. */
  private audioMs = 0;
  private readonly bytesPerMs: number;
  private readonly assembler = new WordAssembler();

  constructor(
    readonly id: string | undefined,
    private readonly socket: ElevenLabsSocket,
    signal: AbortSignal,
  ) {
    this.bytesPerMs = bytesPerMs(socket.settings.format, 1000) / 1000;
    this.timing.requestSentAt = performance.now();
    if (signal.aborted) this.close();
    else signal.addEventListener('abort', () => this.close(), { once: true });
  }

  private send(msg: Record<string, unknown>): void {
    if (!this.began) {
      this.began = true;
      const s = this.socket.settings;
      this.socket.send(
        this.withId({
          text: ' ',
          voice_settings: s.voiceSettings,
          generation_config: { chunk_length_schedule: s.chunkLengthSchedule },
        }),
      );
    }
    this.socket.send(this.withId(msg));
  }

  private withId(msg: Record<string, unknown>): Record<string, unknown> {
    return this.id === undefined ? msg : { ...msg, context_id: this.id };
  }

  /** Sends whole words (each chunk ending in one space, as the API requires); flush at a clause end. */
  pushText(text: string): void {
    if (this.ended || this.audio.done || !text) return;
    this.pending += text;
    const cut = this.pending.search(/\s\S*$/);
    if (cut < 0) return;
    const words = this.pending.slice(0, cut).trim();
    this.pending = this.pending.slice(cut + 1);
    if (!words) return;
    const flush = CLAUSE_END.test(words);
    this.unflushed = !flush;
    this.send({ text: `${words} `, ...(flush ? { flush: true } : {}) });
  }

  /** Generate the text so far now (flush; a single space carries it: empty text would end a stream-input). */
  flush(): void {
    if (this.ended || this.audio.done) return;
    const rest = this.pending.trim();
    this.pending = '';
    if (!rest && !this.unflushed) return;
    this.unflushed = false;
    this.send({ text: rest ? `${rest} ` : ' ', flush: true });
  }

  end(): void {
    if (this.ended || this.audio.done) return;
    this.ended = true;
    const rest = this.pending.trim();
    this.pending = '';
    if (rest) this.send({ text: `${rest} `, flush: true });
    if (!this.began) {
      // nothing was said: no audio to wait for
      this.finish();
      return;
    }
    if (this.id === undefined)
      this.socket.send({ text: '' }); // EOS: generate what is left, then isFinal
    else {
      if (!rest) this.socket.send({ context_id: this.id, flush: true });
      this.socket.send({ context_id: this.id, close_context: true });
    }
  }

  /** Barge-in: stop now. Multi-context closes only this context; stream-input drops its socket. */
  close(): void {
    if (!this.audio.done) {
      if (this.began && this.id !== undefined && !this.ended)
        this.socket.send({ context_id: this.id, close_context: true });
      this.finish(abortedError('elevenlabs', 'tts'));
    }
    if (this.id === undefined) this.socket.terminate();
  }

  /** A server message for this context. */
  onMessage(msg: {
    audio?: string | null;
    isFinal?: boolean | null;
    alignment?: unknown;
    normalizedAlignment?: unknown;
  }): void {
    if (this.audio.done) return;
    if (msg.audio) {
      this.timing.firstByteAt ??= performance.now();
      const data = Buffer.from(msg.audio, 'base64');
      // alignment is on the text we sent; normalizedAlignment (numbers spelled out...) only when it is missing
      const a = wsAlignment(msg.alignment) ?? wsAlignment(msg.normalizedAlignment);
      const words = a ? this.assembler.push(a, this.audioMs) : undefined;
      this.audioMs += data.length / this.bytesPerMs;
      const format = this.socket.settings.format;
      this.audio.push(words?.length ? { format, data, words } : { format, data });
    }
    if (msg.isFinal) {
      const last = this.assembler.take();
      if (last) this.audio.push({ format: this.socket.settings.format, data: new Uint8Array(0), words: [last] });
      this.finish();
    }
  }

  fail(err: ProviderError): void {
    this.finish(err);
  }

  private finish(err?: ProviderError): void {
    if (this.audio.done) return;
    this.audio.finish(err);
    this.timing.doneAt = performance.now();
    this.socket.release(this);
  }
}

/** One WebSocket: a stream-input socket (one unnamed context) or a multi-stream-input socket (named contexts). */
export class ElevenLabsSocket {
  private readonly ws: WebSocket;
  private readonly outbox: string[] = [];
  private readonly contexts = new Map<string, ContextStream>();
  private single: ContextStream | undefined;
  /** Error frame that preceded a close, if any. */
  private lastError = '';
  closed = false;
  /** Called when the socket has no live context (the owner may close an idle socket). */
  onIdle: (() => void) | undefined;

  constructor(
    readonly settings: ElevenLabsWsSettings,
    readonly multi: boolean,
  ) {
    const path = multi ? 'multi-stream-input' : 'stream-input';
    const url = `${settings.base}/v1/text-to-speech/${encodeURIComponent(settings.voice)}/${path}?${settings.query}`;
    const ws = new WebSocket(url, { headers: { 'xi-api-key': settings.apiKey } });
    this.ws = ws;
    ws.on('open', () => {
      for (const m of this.outbox.splice(0)) ws.send(m);
    });
    ws.on('message', (data) => this.onMessage(String(data)));
    ws.on('unexpected-response', (_req, res) =>
      upgradeRejection(res, { provider: 'elevenlabs', kind: 'tts', what: path }, (err) => {
        this.failAll(err);
        ws.terminate();
      }),
    );
    ws.on('error', (err) =>
      this.failAll(classify(err, { provider: 'elevenlabs', kind: 'tts', secrets: [settings.apiKey] })),
    );
    ws.on('close', (code, reason) => {
      this.closed = true;
      this.failAll(elevenLabsSocketError(code, `${this.lastError} ${reason.toString()}`.trim(), settings.apiKey));
    });
  }

  /** A new utterance on this socket. */
  open(contextId: string | undefined, signal: AbortSignal): ContextStream {
    const stream = new ContextStream(contextId, this, signal);
    if (contextId === undefined) this.single = stream;
    else this.contexts.set(contextId, stream);
    return stream;
  }

  get live(): number {
    return this.contexts.size + (this.single ? 1 : 0);
  }

  send(obj: Record<string, unknown>): void {
    const m = JSON.stringify(obj);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(m);
    else if (this.ws.readyState === WebSocket.CONNECTING) this.outbox.push(m);
  }

  release(stream: ContextStream): void {
    if (stream.id === undefined) {
      if (this.single === stream) this.single = undefined;
    } else if (this.contexts.get(stream.id) === stream) this.contexts.delete(stream.id);
    if (this.live === 0) this.onIdle?.();
  }

  /** close_socket: the server flushes and closes. */
  shutdown(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.send({ close_socket: true });
    else this.terminate();
  }

  terminate(): void {
    this.closed = true;
    this.ws.terminate();
  }

  private onMessage(text: string): void {
    let msg: {
      audio?: string | null;
      isFinal?: boolean | null;
      alignment?: unknown;
      normalizedAlignment?: unknown;
      contextId?: string;
      context_id?: string;
      error?: string;
      message?: string;
    };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      this.failAll(
        new ProviderError({
          provider: 'elevenlabs',
          kind: 'tts',
          code: 'malformed',
          message: 'elevenlabs tts: unparseable WebSocket message',
        }),
      );
      this.terminate();
      return;
    }
    if (msg.error) {
      // the close (1008 / 1011) follows; it is classified with this text
      this.lastError = `${msg.error}: ${msg.message ?? ''}`;
      return;
    }
    const id = msg.contextId ?? msg.context_id;
    const target = this.multi ? (id === undefined ? undefined : this.contexts.get(id)) : this.single;
    target?.onMessage(msg); // audio of a context closed on barge-in is dropped here
  }

  private failAll(err: ProviderError): void {
    for (const c of [...this.contexts.values()]) c.fail(err);
    this.single?.fail(err);
  }
}
