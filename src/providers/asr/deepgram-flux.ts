/**
 * Deepgram Flux (`/v2/listen` WebSocket, models flux-general-*): conversational recognition that decides the end
 * of turn itself. Selected by an ASR model whose name starts with `flux`.
 *
 * Server messages: Connected; TurnInfo {event, transcript, words, end_of_turn_confidence} with events
 *   StartOfTurn     -> speech_started
 *   Update          -> partial
 *   EagerEndOfTurn  -> eager_end_of_turn (only with eager_eot_threshold: AsrOptions.eagerEndOfTurn)
 *   TurnResumed     -> turn_resumed (the caller went on: discard a reply prepared on the eager transcript)
 *   EndOfTurn       -> final (speechFinal) + utterance_end: the turn is over, no local endpointing needed
 * and Error {code, description} (fatal). finalize() is a no-op: Flux's model, not a VAD pause, ends the turn.
 * An unexpected close is fatal (the resilience wrapper falls back); Flux has no Finalize / KeepAlive messages.
 */
import type { AudioFormat } from '../../audio/format.js';
import {
  closeListenSocket,
  deepgramClient,
  listenError,
  SOCKET_OPEN as OPEN,
  openListenSocket,
} from '../deepgram-client.js';
import type { AsrEvent, AsrOptions, AsrStream, Timing, Word } from '../types.js';

export interface FluxSettings {
  apiKey?: string;
  baseUrl?: string;
  model?: string;
  /** end-of-turn confidence threshold (Deepgram default 0.7). */
  eotThreshold?: number;
  /** eager threshold sent when AsrOptions.eagerEndOfTurn (lower = earlier, more TurnResumed). */
  eagerEotThreshold?: number;
}

export function isFlux(model: string | undefined): boolean {
  return model !== undefined && /^flux/.test(model);
}

interface TurnInfo {
  type?: string;
  event?: string;
  transcript?: string;
  words?: { word: string; confidence?: number; start?: number; end?: number }[];
  end_of_turn_confidence?: number;
  audio_window_start?: number;
  audio_window_end?: number;
  code?: string;
  description?: string;
}

interface V2Socket {
  readonly readyState: number;
  on(event: 'open' | 'message' | 'close' | 'error', cb: (arg: never) => void): void;
  connect(): unknown;
  waitForOpen(): Promise<unknown>;
  sendMedia(data: ArrayBufferView): void;
  sendCloseStream(m: { type: 'CloseStream' }): void;
  close(): void;
}

function encoding(f: AudioFormat): string {
  return f.encoding === 'pcm16' ? 'linear16' : f.encoding;
}

export async function openFlux(
  settings: FluxSettings,
  options: AsrOptions,
  onEvent: (e: AsrEvent) => void,
  signal?: AbortSignal,
): Promise<AsrStream> {
  const client = deepgramClient(settings.apiKey!, settings.baseUrl);
  const stream = new FluxStream(options, onEvent, settings.apiKey);
  stream.timing.requestSentAt = performance.now();
  const socket = (await client.listen.v2.connect({
    model: options.model ?? settings.model ?? 'flux-general-en',
    encoding: encoding(options.format),
    sample_rate: options.format.sampleRate,
    ...(settings.eotThreshold ? { eot_threshold: settings.eotThreshold } : {}),
    ...(options.eagerEndOfTurn ? { eager_eot_threshold: settings.eagerEotThreshold ?? 0.5 } : {}),
    ...(options.keyterms?.length ? { keyterm: options.keyterms } : {}),
    reconnectAttempts: 0,
    abortSignal: signal,
  } as never)) as unknown as V2Socket;
  stream.socket = await openListenSocket(
    socket,
    { message: (m) => stream.onMessage(m as TurnInfo), close: (code, reason) => stream.onClose(code, reason) },
    settings.apiKey,
    'flux socket',
  );
  return stream;
}

class FluxStream implements AsrStream {
  readonly timing: Timing = {};
  socket: V2Socket | undefined;
  private closing = false;
  private closed = false;
  private closeWaiter: (() => void) | undefined;

  constructor(
    private readonly options: AsrOptions,
    private readonly onEvent: (e: AsrEvent) => void,
    private readonly apiKey: string | undefined,
  ) {}

  private words(m: TurnInfo): Word[] {
    return (m.words ?? []).map((w) => ({
      word: w.word,
      startMs: Math.round((w.start ?? m.audio_window_start ?? 0) * 1000),
      endMs: Math.round((w.end ?? m.audio_window_end ?? 0) * 1000),
      confidence: w.confidence,
    }));
  }

  onMessage(m: TurnInfo): void {
    if (this.closed || !m || typeof m !== 'object') return;
    this.timing.firstByteAt ??= performance.now();
    if (m.type === 'Error') {
      this.onEvent({
        type: 'error',
        error: listenError('bad_request', `${m.code ?? ''} ${m.description ?? ''}`.trim(), this.apiKey),
        fatal: true,
      });
      this.finish();
      return;
    }
    if (m.type !== 'TurnInfo') return; // Connected, future message types
    const text = (m.transcript ?? '').trim();
    const confidence = m.end_of_turn_confidence;
    switch (m.event) {
      case 'StartOfTurn':
        this.onEvent({ type: 'speech_started', atMs: Math.round((m.audio_window_start ?? 0) * 1000) });
        break;
      case 'Update':
        if (text) this.onEvent({ type: 'partial', text, words: this.words(m) });
        break;
      case 'EagerEndOfTurn':
        if (this.options.eagerEndOfTurn)
          this.onEvent({ type: 'eager_end_of_turn', text, words: this.words(m), confidence });
        break;
      case 'TurnResumed':
        if (this.options.eagerEndOfTurn) this.onEvent({ type: 'turn_resumed' });
        break;
      case 'EndOfTurn': {
        const words = this.words(m);
        this.onEvent({ type: 'final', text, words, confidence, speechFinal: true });
        this.onEvent({ type: 'utterance_end', lastWordEndMs: words.at(-1)?.endMs });
        break;
      }
    }
  }

  onClose(code: number | undefined, reason: string | undefined): void {
    if (this.closing || this.closed) {
      this.finish();
      return;
    }
    this.onEvent({
      type: 'error',
      error: listenError(
        code === 1008 ? 'bad_request' : 'connection',
        `flux socket closed (${code ?? 'no code'}) ${reason ?? ''}`,
        this.apiKey,
      ),
      fatal: true,
    });
    this.finish();
  }

  write(audio: Uint8Array): void {
    if (this.closed || this.closing || this.socket?.readyState !== OPEN) return;
    this.socket.sendMedia(audio);
  }

  /** Flux ends turns by its own model; a local pause is no reason to cut. */
  finalize(): void {}

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
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
