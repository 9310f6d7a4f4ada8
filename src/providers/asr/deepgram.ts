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
 * {"type":"CloseStream"}; server messages Results / UtteranceEnd / SpeechStarted / Metadata.
 */
import { DeepgramClient } from '@deepgram/sdk';
import { type AudioFormat, bytesPerMs, MULAW_8K, PCM_8K, PCM_16K } from '../../audio/format.js';
import { classify, codeForStatus, unavailable } from '../classify.js';
import {
  type AsrEvent,
  type AsrOptions,
  type AsrProvider,
  type AsrStream,
  ProviderError,
  type Timing,
  type Word,
} from '../types.js';

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
}

/** The subset of the SDK socket this adapter uses. */
interface ListenSocket {
  readonly readyState: number;
  on(event: 'open' | 'message' | 'close' | 'error', cb: (arg: never) => void): void;
  connect(): unknown;
  waitForOpen(): Promise<unknown>;
  sendMedia(data: ArrayBufferView): void;
  sendKeepAlive(m: { type: 'KeepAlive' }): void;
  sendFinalize(m: { type: 'Finalize' }): void;
  sendCloseStream(m: { type: 'CloseStream' }): void;
  close(): void;
}

const OPEN = 1;

function encodingParam(f: AudioFormat): string {
  return f.encoding === 'pcm16' ? 'linear16' : f.encoding;
}

function endpoints(baseUrl: string | undefined): {
  base: string;
  production: string;
  agent: string;
  agentRest: string;
} {
  const http = (baseUrl ?? 'https://api.deepgram.com').replace(/^ws/, 'http').replace(/\/+$/, '');
  const ws = http.replace(/^http/, 'ws');
  return { base: http, production: ws, agent: ws, agentRest: http };
}

export class DeepgramAsr implements AsrProvider {
  readonly id = 'deepgram';
  readonly formats: readonly AudioFormat[] = [MULAW_8K, PCM_16K, PCM_8K];
  constructor(readonly opts: DeepgramAsrOptions) {}

  async open(options: AsrOptions, onEvent: (event: AsrEvent) => void, signal?: AbortSignal): Promise<AsrStream> {
    if (!this.opts.apiKey) throw unavailable(this.id, 'asr', 'deepgram asr: set DEEPGRAM_API_KEY');
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
  private closeWaiter: (() => void) | undefined;

  constructor(
    private readonly opts: DeepgramAsrOptions,
    private readonly options: AsrOptions,
    private readonly onEvent: (e: AsrEvent) => void,
  ) {
    this.client = new DeepgramClient({ apiKey: opts.apiKey, environment: endpoints(opts.baseUrl), reconnect: false });
    this.bytesPerMs = bytesPerMs(options.format, 1000) / 1000;
    this.gapLimit = Math.round(this.bytesPerMs * (opts.reconnectBufferMs ?? 5000));
  }

  private error(raw: unknown): ProviderError {
    if (raw instanceof ProviderError) return raw;
    const e = raw as { message?: string; error?: { message?: string } };
    const message = String(e?.error?.message ?? e?.message ?? raw);
    const status = /server response: (\d{3})/.exec(message)?.[1];
    if (status) {
      return new ProviderError({
        provider: 'deepgram',
        kind: 'asr',
        code: codeForStatus(Number(status)),
        status: Number(status),
        message: `deepgram asr: HTTP ${status} at connect`,
      });
    }
    return classify(new Error(message), { provider: 'deepgram', kind: 'asr', secrets: [this.opts.apiKey] });
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
      ...(o.utteranceEndMs ? { utterance_end_ms: o.utteranceEndMs } : {}),
      ...(o.keyterms?.length ? { keyterm: o.keyterms } : {}),
      ...(o.language ? { language: o.language } : {}),
      reconnectAttempts: 0,
      abortSignal: signal,
    } as never)) as unknown as ListenSocket;
    socket.on('message', ((m: DgMessage) => this.onMessage(m)) as (arg: never) => void);
    socket.on('error', (() => {}) as (arg: never) => void); // failures arrive as close / waitForOpen rejections
    socket.on('close', ((ev: { code?: number }) => this.onClose(socket, ev?.code)) as (arg: never) => void);
    socket.connect();
    try {
      await socket.waitForOpen();
    } catch (err) {
      socket.close();
      throw this.error(err);
    }
    if (socket.readyState !== OPEN) {
      socket.close();
      throw new ProviderError({
        provider: 'deepgram',
        kind: 'asr',
        code: 'connection',
        message: 'deepgram asr: socket closed while opening',
      });
    }
    this.socket = socket;
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
          this.onEvent({ type: 'partial', text, words: this.words(alt?.words), confidence: alt?.confidence });
        }
        return;
      }
      case 'SpeechStarted':
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

  private onClose(socket: ListenSocket, code: number | undefined): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    if (this.closing || this.closed) {
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
    for (let attempt = 1; attempt <= max && !this.closed && !this.closing; attempt++) {
      await new Promise((r) => setTimeout(r, 100 * 2 ** (attempt - 1)));
      if (this.closed || this.closing) break;
      try {
        await this.connect();
        this.reconnecting = false;
        const pending = this.gap;
        this.gap = [];
        this.gapBytes = 0;
        for (const buf of pending) this.send(buf);
        return;
      } catch (err) {
        last = this.error(err);
        if (!last.retryable) break;
      }
    }
    this.reconnecting = false;
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
    if (this.socket?.readyState === OPEN) this.socket.sendFinalize({ type: 'Finalize' });
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAlive);
    this.timing.doneAt = performance.now();
    this.closeWaiter?.();
    this.onEvent({ type: 'closed' });
  }

  async close(): Promise<void> {
    if (this.closing || this.closed) return;
    this.closing = true;
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) {
      socket?.close();
      this.finish();
      return;
    }
    // CloseStream lets Deepgram flush its last results and Metadata before it closes the socket.
    const done = new Promise<void>((resolve) => {
      this.closeWaiter = resolve;
    });
    socket.sendCloseStream({ type: 'CloseStream' });
    const timer = setTimeout(() => {
      socket.close();
      this.finish();
    }, 2000);
    await done;
    clearTimeout(timer);
  }
}
