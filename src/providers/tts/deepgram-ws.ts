/**
 * Deepgram Aura speak WebSocket (`/v1/speak?model=&encoding=&sample_rate=`), spoken with `ws`: one socket per call,
 * utterances one after another on it.
 *
 *   client                              server
 *   {"type":"Speak","text"} ...     ->                                   (buffered by the server)
 *   {"type":"Flush"}                -> <- binary audio ... {"type":"Flushed"}   (at clause ends and at the end)
 *   {"type":"Clear"}  (barge-in)    -> <- {"type":"Cleared"}              (audio before Cleared is stale: dropped)
 *   {"type":"Close"}                -> <- close 1000
 *
 * Audio frames carry no utterance id: they belong to the oldest utterance still waiting for its last Flushed.
 * Deepgram allows 20 Flushes per 60 s: past that, clause-end flushes are skipped (the end still flushes).
 * Errors: an upgrade status (401 / 402 quota / 429) or a close; a Warning is ignored.
 */
import WebSocket from 'ws';
import type { AudioFormat } from '../../audio/format.js';
import { abortedError, classify, scrub, upgradeRejection } from '../classify.js';
import { ProviderError, type Timing, type TtsTextStream } from '../types.js';
import { ChunkQueue } from './chunk-queue.js';

const CLAUSE_END = /[.!?;:]["')\]]*\s*$/;
const FLUSH_BUDGET = 20;
const FLUSH_WINDOW_MS = 60_000;

export class AuraUtterance implements TtsTextStream {
  readonly timing: Timing = {};
  readonly audio = new ChunkQueue();
  /** Flushes sent for this utterance whose Flushed has not arrived. */
  pendingFlushes = 0;
  ended = false;
  private aborted = false;
  /** Text sent since the last Flush. */
  private unflushed = false;

  constructor(
    private readonly socket: AuraSocket,
    signal: AbortSignal,
  ) {
    this.timing.requestSentAt = performance.now();
    if (signal.aborted) this.close();
    else signal.addEventListener('abort', () => this.close(), { once: true });
  }

  pushText(text: string): void {
    if (this.ended || this.audio.done || !text) return;
    this.socket.send({ type: 'Speak', text });
    this.unflushed = true;
    if (CLAUSE_END.test(text)) this.flush();
  }

  /** Flush within the socket's budget (a skipped one leaves the text for the next Flush). */
  flush(): void {
    if (this.ended || this.audio.done || !this.unflushed) return;
    if (this.socket.flush(this, false)) this.unflushed = false;
  }

  end(): void {
    if (this.ended || this.audio.done) return;
    this.ended = true;
    this.socket.flush(this, true);
  }

  /** Barge-in: Clear (the server drops its buffer and unsent audio; the socket stays). */
  close(): void {
    if (this.audio.done) return;
    this.aborted = true;
    this.socket.clear();
  }

  onAudio(data: Uint8Array): void {
    this.timing.firstByteAt ??= performance.now();
    this.audio.push({ format: this.socket.format, data });
  }

  finish(err?: ProviderError): void {
    if (this.audio.done) return;
    this.audio.finish(this.aborted ? abortedError('deepgram', 'tts') : err);
    this.timing.doneAt = performance.now();
  }
}

export class AuraSocket {
  private readonly ws: WebSocket;
  private readonly outbox: string[] = [];
  /** Utterances in the order the server speaks them. */
  private readonly queue: AuraUtterance[] = [];
  /** Clears sent whose Cleared has not arrived: audio meanwhile is stale. */
  private clearing = 0;
  private readonly flushTimes: number[] = [];
  closed = false;

  constructor(
    url: string,
    readonly apiKey: string,
    readonly format: AudioFormat,
  ) {
    const ws = new WebSocket(url, { headers: { authorization: `Token ${apiKey}` } });
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('open', () => {
      for (const m of this.outbox.splice(0)) ws.send(m);
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => (isBinary ? this.onAudio(data) : this.onJson(String(data))));
    ws.on('unexpected-response', (_req, res) =>
      upgradeRejection(res, { provider: 'deepgram', kind: 'tts', what: 'speak' }, (err) => {
        this.failAll(err);
        ws.terminate();
      }),
    );
    ws.on('error', (err) => this.failAll(classify(err, { provider: 'deepgram', kind: 'tts', secrets: [apiKey] })));
    ws.on('close', (code, reason) => {
      this.closed = true;
      this.failAll(
        new ProviderError({
          provider: 'deepgram',
          kind: 'tts',
          code: code === 1008 ? 'bad_request' : code === 1011 ? 'server' : 'connection',
          message: `deepgram tts: speak socket closed (${code}) ${scrub(reason.toString(), [apiKey])}`.trim(),
        }),
      );
    });
  }

  open(signal: AbortSignal): AuraUtterance {
    const u = new AuraUtterance(this, signal);
    this.queue.push(u);
    return u;
  }

  get live(): number {
    return this.queue.length;
  }

  send(obj: Record<string, unknown>): void {
    const m = JSON.stringify(obj);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(m);
    else if (this.ws.readyState === WebSocket.CONNECTING) this.outbox.push(m);
  }

  /** A Flush within the 20-per-minute budget (the last one of an utterance always goes); false if skipped. */
  flush(u: AuraUtterance, last: boolean): boolean {
    const now = performance.now();
    while (this.flushTimes.length && now - this.flushTimes[0]! > FLUSH_WINDOW_MS) this.flushTimes.shift();
    if (!last && this.flushTimes.length >= FLUSH_BUDGET - 2) return false;
    this.flushTimes.push(now);
    u.pendingFlushes++;
    this.send({ type: 'Flush' });
    return true;
  }

  /** Barge-in drops everything queued on the server: every utterance on this socket ends. */
  clear(): void {
    this.clearing++;
    this.send({ type: 'Clear' });
    for (const u of this.queue.splice(0)) u.finish(abortedError('deepgram', 'tts'));
  }

  shutdown(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.send({ type: 'Close' });
    else this.ws.terminate();
    this.closed = true;
  }

  private onAudio(data: Buffer): void {
    if (this.clearing > 0) return;
    this.queue[0]?.onAudio(data);
  }

  private onJson(text: string): void {
    let msg: { type?: string };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      this.failAll(
        new ProviderError({
          provider: 'deepgram',
          kind: 'tts',
          code: 'malformed',
          message: 'deepgram tts: unparseable speak message',
        }),
      );
      this.ws.terminate();
      return;
    }
    if (msg.type === 'Cleared') this.clearing = Math.max(0, this.clearing - 1);
    else if (msg.type === 'Flushed' && this.clearing === 0) {
      const u = this.queue[0];
      if (!u) return;
      u.pendingFlushes--;
      if (u.ended && u.pendingFlushes <= 0) {
        this.queue.shift();
        u.finish();
      }
    }
  }

  private failAll(err: ProviderError): void {
    for (const u of this.queue.splice(0)) u.finish(err);
  }
}
