/**
 * Deepgram Aura TTS. synthesize(): `POST /v1/speak?model=aura-...&encoding=mulaw&sample_rate=8000&container=none`
 * through @deepgram/sdk, streamed (`container=none`: the API's default is a WAV header on every response).
 * openTextStream(): the speak WebSocket (src/providers/tts/deepgram-ws.ts), one socket per call, Clear on
 * barge-in. mu-law 8 kHz goes to a telephony leg with no transcoding; linear16 at 8/16/24 kHz otherwise.
 */
import type { DeepgramClient } from '@deepgram/sdk';
import { type AudioChunk, type AudioFormat, MULAW_8K, PCM_8K, PCM_16K, PCM_24K } from '../../audio/format.js';
import { abortedError, classify, unavailable } from '../classify.js';
import { deepgramClient } from '../deepgram-client.js';
import type { Timing, TtsProvider, TtsRequest, TtsTextStream } from '../types.js';
import { audioChunks } from './body.js';
import { AuraSocket } from './deepgram-ws.js';
import { clampSpeed, TTS_SPEED } from './speed.js';

export interface DeepgramTtsOptions {
  apiKey?: string;
  baseUrl?: string;
  model?: string;
  /** openTextStream over the speak WebSocket (default true). */
  textStream?: boolean;
}

/** An idle speak socket (no utterance) is closed after this, ms. */
const IDLE_SOCKET_MS = 30_000;

export const DEEPGRAM_DEFAULT_VOICE = 'aura-2-thalia-en';

export class DeepgramTts implements TtsProvider {
  readonly id = 'deepgram';
  readonly formats: readonly AudioFormat[] = [MULAW_8K, PCM_8K, PCM_16K, PCM_24K];
  private readonly client: DeepgramClient | undefined;
  private socket: AuraSocket | undefined;
  private socketKey = '';
  private idleTimer: NodeJS.Timeout | undefined;
  readonly openTextStream: ((request: Omit<TtsRequest, 'text'>, signal: AbortSignal) => TtsTextStream) | undefined;

  constructor(private readonly opts: DeepgramTtsOptions) {
    if (opts.apiKey) this.client = deepgramClient(opts.apiKey, opts.baseUrl);
    this.openTextStream = opts.apiKey && opts.textStream !== false ? (r, s) => this.textStream(r, s) : undefined;
  }

  private pick(want: AudioFormat): AudioFormat {
    return (
      this.formats.find((f) => f.encoding === want.encoding && f.sampleRate === want.sampleRate) ??
      (want.encoding === 'pcm16' ? PCM_24K : MULAW_8K)
    );
  }

  async *synthesize(request: TtsRequest, signal: AbortSignal, timing: Timing = {}): AsyncIterable<AudioChunk> {
    if (!this.client) throw unavailable(this.id, 'tts', 'deepgram tts: set DEEPGRAM_API_KEY');
    if (signal.aborted) throw abortedError(this.id, 'tts');
    const format = this.pick(request.format);
    const speed = clampSpeed(request.speed, TTS_SPEED.deepgram!);
    timing.requestSentAt = performance.now();
    try {
      const res = await this.client.speak.v1.audio.generate(
        {
          text: request.text,
          model: (request.voice ?? request.model ?? this.opts.model ?? DEEPGRAM_DEFAULT_VOICE) as never,
          encoding: (format.encoding === 'mulaw' ? 'mulaw' : 'linear16') as never,
          sample_rate: format.sampleRate,
          container: 'none' as never,
          ...(speed ? { speed } : {}),
        },
        { abortSignal: signal, maxRetries: 0 },
      );
      const body = res.stream();
      if (!body) throw new Error('empty body');
      yield* audioChunks(body as unknown as AsyncIterable<Uint8Array>, format, timing);
    } catch (err) {
      if (signal.aborted) throw abortedError(this.id, 'tts');
      throw classify(err, { provider: this.id, kind: 'tts', secrets: [this.opts.apiKey] });
    }
  }

  private textStream(request: Omit<TtsRequest, 'text'>, signal: AbortSignal): TtsTextStream {
    const format = this.pick(request.format);
    const speed = clampSpeed(request.speed, TTS_SPEED.deepgram!);
    const q = new URLSearchParams({
      model: request.voice ?? request.model ?? this.opts.model ?? DEEPGRAM_DEFAULT_VOICE,
      encoding: format.encoding === 'mulaw' ? 'mulaw' : 'linear16',
      sample_rate: String(format.sampleRate),
    });
    if (speed) q.set('speed', String(speed));
    const key = String(q);
    if (!this.socket || this.socket.closed || key !== this.socketKey) {
      this.socket?.shutdown();
      const base = (this.opts.baseUrl ?? 'https://api.deepgram.com').replace(/^http/, 'ws').replace(/\/+$/, '');
      this.socket = new AuraSocket(`${base}/v1/speak?${q}`, this.opts.apiKey!, format);
      this.socketKey = key;
    }
    this.armIdle();
    return this.socket.open(signal);
  }

  /** Closes the call's socket once no utterance has used it for IDLE_SOCKET_MS (the call may be over). */
  private armIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (!this.socket) return;
      if (this.socket.live > 0) return this.armIdle();
      this.socket.shutdown();
      this.socket = undefined;
    }, IDLE_SOCKET_MS);
    this.idleTimer.unref();
  }
}
