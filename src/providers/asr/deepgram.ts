/**
 * Deepgram live streaming ASR (`/v1/listen` WebSocket) through @deepgram/sdk v5. mu-law 8 kHz passes straight
 * through (encoding=mulaw&sample_rate=8000), so a Twilio call needs no transcoding. Interim results, endpointing,
 * utterance_end_ms, keyterm and vad_events (SpeechStarted) map onto AsrEvent.
 *
 * The SDK's own reconnect is off (reconnect: false, reconnectAttempts: 0): this stream reconnects itself so that it
 * can (1) hold the audio written during the gap in a bounded buffer and send it on the new socket, (2) shift word
 * timings by the audio the previous sockets heard (Deepgram restarts its clock per connection), and (3) give up
 * after `maxReconnects` with a fatal error event, which lets the resilience wrapper fall back to another provider.
 *
 * Wire messages (Deepgram "Live Audio" API): binary audio frames; JSON control {"type":"KeepAlive"} (we send one
 * when no audio was written for keepAliveMs; Deepgram closes an idle socket after about 10 s), {"type":"Finalize"},
 * {"type":"CloseStream"}; server messages Results / UtteranceEnd / SpeechStarted / Metadata / Error.
 *
 * Close codes: 1008 (DATA-0000: the audio could not be decoded) is not reconnected: the same audio would fail again;
 * it becomes a fatal `bad_request` error (a call incident). 1011 / 1000 / no status: reconnect as above.
 * A server `Error` message is surfaced as a non-fatal error event (the close that usually follows decides the rest).
 *
 * finalize(): with `finalizeDelayMs` the Finalize is held that long and dropped if the recognizer hears the caller
 * go on (a SpeechStarted, or an interim with new words) before it is sent: a short pause no longer cuts a sentence.
 */
import type { DeepgramClient } from '@deepgram/sdk';
import { type AudioFormat, bytesPerMs, MULAW_8K, PCM_8K, PCM_16K } from '../../audio/format.js';
import { retry } from '../../retry.js';
import { unavailable } from '../classify.js';
import {
  closeListenSocket,
  deepgramClient,
  deepgramConnectError,
  listenError,
  SOCKET_OPEN as OPEN,
  openListenSocket,
} from '../deepgram-client.js';
import {
  type AsrCapabilities,
  type AsrEvent,
  type AsrOptions,
  type AsrProvider,
  type AsrStream,
  ProviderError,
  type Timing,
  type Word,
} from '../types.js';
import { type FluxSettings, isFlux, openFlux } from './deepgram-flux.js';

export interface DeepgramAsrOptions {
  apiKey?: string;
  /** https://api.deepgram.com by default; http(s):// or ws(s):// accepted. */
  baseUrl?: string;
  model?: string;
  /** Send KeepAlive when no audio was written for this long, ms. */
  keepAliveMs?: number;
  maxReconnects?: number;
  /** Audio held while reconnecting, ms (older audio is dropped first). */
  reconnectBufferMs?: number;
}

/** `utterance_end_ms` bounds: Deepgram needs at least 1000 (its interim cadence); over 5000 a turn waits too long. */
export const UTTERANCE_END_MS = { min: 1000, max: 5000 } as const;

export function boundUtteranceEnd(ms: number | undefined): number | undefined {
  if (ms === undefined) return undefined;
  return Math.min(UTTERANCE_END_MS.max, Math.max(UTTERANCE_END_MS.min, Math.round(ms)));
}

interface DgWord {
  word: string;
  punctuated_word?: string;
  start: number;
  end: number;
  confidence?: number;
}
interface DgMessage {
  type?: string;
  is_final?: boolean;
  speech_final?: boolean;
  channel?: { alternatives?: { transcript?: string; confidence?: number; words?: DgWord[] }[] };
  timestamp?: number;
  last_word_end?: number;
  /** type Error */
  description?: string;
  message?: string;
  variant?: string;
  err_code?: string;
  err_msg?: string;
}

/** The subset of the SDK socket this adapter uses. */
interface ListenSocket {
  readonly readyState: number;
  on(event: 'open' | 'message' | 'close' | 'error', cb: (arg: never) => void): void;
  readonly url?: string;
  connect(): unknown;
  waitForOpen(): Promise<unknown>;
  sendMedia(data: ArrayBufferView): void;
  sendKeepAlive(m: { type: 'KeepAlive' }): void;
  sendFinalize(m: { type: 'Finalize' }): void;
  sendCloseStream(m: { type: 'CloseStream' }): void;
  close(): void;
}

function encodingParam(f: AudioFormat): string {
  return f.encoding === 'pcm16' ? 'linear16' : f.encoding;
}

export class DeepgramAsr implements AsrProvider {
  readonly id = 'deepgram';
  readonly formats: readonly AudioFormat[] = [MULAW_8K, PCM_16K, PCM_8K];
  readonly capabilities: AsrCapabilities;
  constructor(readonly opts: DeepgramAsrOptions & FluxSettings) {
    this.capabilities = isFlux(opts.model)
      ? { endOfTurn: true, eagerEndOfTurn: true, interim: true }
      : { finalize: true, interim: true };
  }

  async open(options: AsrOptions, onEvent: (event: AsrEvent) => void, signal?: AbortSignal): Promise<AsrStream> {
    if (!this.opts.apiKey) throw unavailable(this.id, 'asr', 'deepgram asr: set DEEPGRAM_API_KEY');
    if (isFlux(options.model ?? this.opts.model)) return openFlux(this.opts, options, onEvent, signal);
    const stream = new DeepgramStream(this.opts, options, onEvent);
    await stream.connect(signal);
    return stream;
  }
}

class DeepgramStream implements AsrStream {
  readonly timing: Timing = {};
  private socket: ListenSocket | undefined;
  private readonly client: DeepgramClient;
  private readonly bytesPerMs: number;
  private sentBytes = 0;
  /** Audio ms heard by previous sockets: added to this socket's timestamps. */
  private offsetMs = 0;
  private gap: Uint8Array[] = [];
  private gapBytes = 0;
  private readonly gapLimit: number;
  /** Bytes dropped from the reconnect buffer (counted, not logged per frame). */
  dropped = 0;
  private lastWriteAt = 0;
  private keepAlive: NodeJS.Timeout | undefined;
  private closing = false;
  private closed = false;
  private reconnecting = false;
  private finalizeTimer: NodeJS.Timeout | undefined;
  /** Words in the last interim: a longer interim while a Finalize is held means the caller went on. */
  private interimWords = 0;
  private closeWaiter: (() => void) | undefined;

  constructor(
    private readonly opts: DeepgramAsrOptions,
    private readonly options: AsrOptions,
    private readonly onEvent: (e: AsrEvent) => void,
  ) {
    this.client = deepgramClient(opts.apiKey!, opts.baseUrl);
    this.bytesPerMs = bytesPerMs(options.format, 1000) / 1000;
    this.gapLimit = Math.round(this.bytesPerMs * (opts.reconnectBufferMs ?? 5000));
  }

  private error(raw: unknown): ProviderError {
    return deepgramConnectError(raw, 'asr', this.opts.apiKey);
  }

  async connect(signal?: AbortSignal): Promise<void> {
    const o = this.options;
    this.timing.requestSentAt ??= performance.now();
    const socket = (await this.client.listen.v1.connect({
      model: o.model ?? this.opts.model ?? 'nova-3',
      encoding: encodingParam(o.format),
      sample_rate: o.format.sampleRate,
      channels: 1,
      interim_results: String(o.interimResults ?? true),
      punctuate: 'true',
      smart_format: 'true',
      vad_events: 'true',
      endpointing: o.endpointingMs ?? 300,
      ...(o.utteranceEndMs ? { utterance_end_ms: boundUtteranceEnd(o.utteranceEndMs) } : {}),
      ...(o.keyterms?.length ? { keyterm: o.keyterms } : {}),
      ...(o.language ? { language: o.language } : {}),
      reconnectAttempts: 0,
      abortSignal: signal,
    } as never)) as unknown as ListenSocket;
    this.socket = await openListenSocket(
      socket,
      { message: (m) => this.onMessage(m as DgMessage), close: (code, reason) => this.onClose(socket, code, reason) },
      this.opts.apiKey,
      'socket',
    );
    this.offsetMs = this.sentBytes / this.bytesPerMs;
    const keepAliveMs = this.opts.keepAliveMs ?? 4000;
    this.lastWriteAt = performance.now();
    // One timer per call (not per frame): KeepAlive only when the caller's audio has stopped flowing.
    this.keepAlive ??= setInterval(
      () => {
        if (this.socket?.readyState === OPEN && performance.now() - this.lastWriteAt >= keepAliveMs) {
          this.socket.sendKeepAlive({ type: 'KeepAlive' });
          this.lastWriteAt = performance.now();
        }
      },
      Math.max(50, keepAliveMs / 2),
    );
    this.keepAlive.unref();
  }

  private words(ws: DgWord[] | undefined): Word[] {
    if (!ws) return [];
    return ws.map((w) => ({
      word: w.punctuated_word ?? w.word,
      startMs: Math.round(w.start * 1000 + this.offsetMs),
      endMs: Math.round(w.end * 1000 + this.offsetMs),
      confidence: w.confidence,
    }));
  }

  private onMessage(m: DgMessage): void {
    if (!m || typeof m !== 'object' || typeof m.type !== 'string') {
      this.onEvent({
        type: 'error',
        error: new ProviderError({
          provider: 'deepgram',
          kind: 'asr',
          code: 'malformed',
          message: 'deepgram asr: unparseable message',
        }),
        fatal: false,
      });
      return;
    }
    this.timing.firstByteAt ??= performance.now();
    switch (m.type) {
      case 'Results': {
        const alt = m.channel?.alternatives?.[0];
        const text = alt?.transcript ?? '';
        if (m.is_final) {
          if (text || m.speech_final)
            this.onEvent({
              type: 'final',
              text,
              words: this.words(alt?.words),
              confidence: alt?.confidence,
              speechFinal: m.speech_final === true,
            });
        } else if (text) {
          const n = alt?.words?.length ?? 0;
          if (n > this.interimWords) this.cancelFinalize();
          this.interimWords = n;
          this.onEvent({ type: 'partial', text, words: this.words(alt?.words), confidence: alt?.confidence });
        }
        if (m.is_final) this.interimWords = 0;
        return;
      }
      case 'Error':
        this.onEvent({
          type: 'error',
          error: listenError(
            'server',
            [m.err_code ?? m.variant, m.description ?? m.err_msg, m.message].filter(Boolean).join(': '),
            this.opts.apiKey,
          ),
          fatal: false,
        });
        return;
      case 'SpeechStarted':
        this.cancelFinalize();
        this.onEvent({
          type: 'speech_started',
          atMs: m.timestamp === undefined ? undefined : Math.round(m.timestamp * 1000 + this.offsetMs),
        });
        return;
      case 'UtteranceEnd':
        this.onEvent({
          type: 'utterance_end',
          lastWordEndMs: m.last_word_end === undefined ? undefined : Math.round(m.last_word_end * 1000 + this.offsetMs),
        });
        return;
      default:
        return; // Metadata and future message types
    }
  }

  private onClose(socket: ListenSocket, code: number | undefined, reason: string | undefined): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    if (this.closing || this.closed) {
      this.finish();
      return;
    }
    if (code === 1008) {
      // DATA-0000: Deepgram could not decode the audio; a new socket would get the same audio
      const error = listenError('bad_request', `closed 1008 ${reason ?? ''}`, this.opts.apiKey);
      this.onEvent({ type: 'error', error, fatal: true });
      this.finish();
      return;
    }
    void this.reconnect(code);
  }

  private async reconnect(code: number | undefined): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    const max = this.opts.maxReconnects ?? 3;
    let last: ProviderError | undefined;
    let connected = false;
    const stopped = () => this.closed || this.closing;
    if (max > 0 && !stopped()) {
      // 100, 200, 400 ms before the attempts; a non-retryable failure (auth, bad request) ends it.
      await retry(
        async () => {
          if (stopped()) return;
          await this.connect();
          connected = true;
        },
        {
          backoff: { baseMs: 100, maxMs: 100 * 2 ** (max - 1) },
          waitFirst: true,
          maxAttempts: max,
          retryable: (err) => this.error(err).retryable && !stopped(),
        },
      ).catch((err: unknown) => {
        last = this.error(err);
      });
    }
    this.reconnecting = false;
    if (connected) {
      const pending = this.gap;
      this.gap = [];
      this.gapBytes = 0;
      for (const buf of pending) this.send(buf);
      return;
    }
    if (this.closed || this.closing) return this.finish();
    const error =
      last ??
      new ProviderError({
        provider: 'deepgram',
        kind: 'asr',
        code: 'connection',
        message: `deepgram asr: socket closed (${code ?? 'no code'}) and did not reconnect`,
      });
    this.onEvent({ type: 'error', error, fatal: true });
    this.finish();
  }

  private send(audio: Uint8Array): void {
    this.socket!.sendMedia(audio);
    this.sentBytes += audio.length;
  }

  write(audio: Uint8Array): void {
    if (this.closed || this.closing) return;
    this.lastWriteAt = performance.now();
    if (this.socket?.readyState === OPEN) {
      this.send(audio);
      return;
    }
    // Between sockets: keep the newest reconnectBufferMs of audio (copied: the caller reuses its buffers).
    this.gap.push(audio.slice());
    this.gapBytes += audio.length;
    while (this.gapBytes > this.gapLimit && this.gap.length > 1) {
      const old = this.gap.shift()!;
      this.gapBytes -= old.length;
      this.dropped += old.length;
    }
  }

  finalize(): void {
    const delay = this.options.finalizeDelayMs ?? 0;
    if (delay <= 0) {
      this.sendFinalize();
      return;
    }
    if (this.finalizeTimer) return;
    this.finalizeTimer = setTimeout(() => {
      this.finalizeTimer = undefined;
      this.sendFinalize();
    }, delay);
  }

  private sendFinalize(): void {
    if (this.socket?.readyState === OPEN) this.socket.sendFinalize({ type: 'Finalize' });
  }

  private cancelFinalize(): void {
    clearTimeout(this.finalizeTimer);
    this.finalizeTimer = undefined;
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAlive);
    this.cancelFinalize();
    this.timing.doneAt = performance.now();
    this.closeWaiter?.();
    this.onEvent({ type: 'closed' });
  }

  async close(): Promise<void> {
    if (this.closing || this.closed) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => {
      this.closeWaiter = resolve;
    });
    await closeListenSocket(this.socket, closed, () => this.finish());
  }
}
