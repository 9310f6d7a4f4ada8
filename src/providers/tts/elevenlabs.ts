/**
 * ElevenLabs TTS. Two modes:
 * - synthesize(): streaming HTTP through @elevenlabs/elevenlabs-js, per clause. With word timings on (default) the
 *   `.../stream/with-timestamps` route (NDJSON {audio_base64, alignment}); else `.../stream` (raw audio).
 *   `previous_text` / `next_text` carry the neighbouring clauses so prosody flows across requests.
 * - openTextStream(): text that arrives incrementally from the LLM, over the multi-context WebSocket (default: one
 *   socket per call, one context per utterance, `close_context` on barge-in) or the older one-socket-per-utterance
 *   stream-input (src/providers/tts/elevenlabs-ws.ts).
 * The API's default output is MP3; we always ask ulaw_8000 (to a telephony leg with no transcoding) or pcm_N.
 */
import { randomUUID } from 'node:crypto';
import { ElevenLabsClient } from '@elevenlabs/elevenlabs-js';
import {
  type AudioChunk,
  type AudioFormat,
  bytesPerMs,
  MULAW_8K,
  PCM_8K,
  PCM_16K,
  PCM_24K,
  pcmFormat,
} from '../../audio/format.js';
import { abortedError, classify, unavailable } from '../classify.js';
import type { Timing, TtsProvider, TtsRequest, TtsTextStream } from '../types.js';
import { WordAssembler } from './alignment.js';
import { audioChunks } from './body.js';
import { ElevenLabsSocket, type ElevenLabsWsSettings } from './elevenlabs-ws.js';
import { clampSpeed, TTS_SPEED } from './speed.js';

export interface ElevenLabsTtsOptions {
  apiKey?: string;
  baseUrl?: string;
  model?: string;
  voice?: string;
  /** openTextStream transport: 'multi' (multi-stream-input, default) or 'single' (stream-input per utterance). */
  textStream?: 'multi' | 'single';
  /** Word timings from the service's alignment on HTTP synthesis (with-timestamps route). Default true. */
  wordTimings?: boolean;
  /** WebSocket generation_config.chunk_length_schedule; the API default [120,160,250,290] holds 120 chars. */
  chunkLengthSchedule?: number[];
  /** WebSocket `inactivity_timeout`, s (API default 20, max 180). */
  inactivityTimeoutS?: number;
}

/** Characters buffered before each generation; clause ends are flushed sooner. */
export const ELEVENLABS_CHUNK_SCHEDULE = [50, 120, 160, 250];
/** An idle multi-context socket (no live context) is closed after this, ms. */
const IDLE_SOCKET_MS = 30_000;

export const ELEVENLABS_DEFAULT_VOICE = '21m00Tcm4TlvDq8ikWAM'; // "Rachel", a premade voice
export const ELEVENLABS_DEFAULT_MODEL = 'eleven_flash_v2_5';
const PCM_RATES = [8000, 16000, 22050, 24000, 44100];

export function elevenLabsFormat(want: AudioFormat): { param: string; format: AudioFormat } {
  if (want.encoding !== 'pcm16') return { param: 'ulaw_8000', format: MULAW_8K };
  const rate = PCM_RATES.includes(want.sampleRate) ? want.sampleRate : 16000;
  return { param: `pcm_${rate}`, format: pcmFormat(rate) };
}

export class ElevenLabsTts implements TtsProvider {
  readonly id = 'elevenlabs';
  readonly formats: readonly AudioFormat[] = [MULAW_8K, PCM_16K, PCM_24K, PCM_8K];
  private readonly client: ElevenLabsClient | undefined;
  private readonly base: string;
  /** The call's multi-context socket, opened on first use and reopened after a close. */
  private socket: ElevenLabsSocket | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ElevenLabsTtsOptions) {
    this.base = (opts.baseUrl ?? 'https://api.elevenlabs.io').replace(/\/+$/, '');
    if (opts.apiKey) this.client = new ElevenLabsClient({ apiKey: opts.apiKey, baseUrl: this.base, maxRetries: 0 });
  }

  async *synthesize(request: TtsRequest, signal: AbortSignal, timing: Timing = {}): AsyncIterable<AudioChunk> {
    if (!this.client) throw unavailable(this.id, 'tts', 'elevenlabs tts: set ELEVENLABS_API_KEY');
    if (signal.aborted) throw abortedError(this.id, 'tts');
    const { param, format } = elevenLabsFormat(request.format);
    const speed = clampSpeed(request.speed, TTS_SPEED.elevenlabs!);
    const voice = request.voice ?? this.opts.voice ?? ELEVENLABS_DEFAULT_VOICE;
    const body = {
      text: request.text,
      modelId: request.model ?? this.opts.model ?? ELEVENLABS_DEFAULT_MODEL,
      outputFormat: param as never,
      ...(request.language ? { languageCode: request.language.slice(0, 2) } : {}),
      ...(speed ? { voiceSettings: { speed } } : {}),
      ...(request.previousText ? { previousText: request.previousText } : {}),
      ...(request.nextText ? { nextText: request.nextText } : {}),
    };
    const options = { abortSignal: signal, maxRetries: 0 };
    timing.requestSentAt = performance.now();
    try {
      if (this.opts.wordTimings === false) {
        const audio = await this.client.textToSpeech.stream(voice, body, options);
        yield* audioChunks(audio as unknown as AsyncIterable<Uint8Array>, format, timing);
        return;
      }
      const parts = await this.client.textToSpeech.streamWithTimestamps(voice, body, options);
      const perMs = bytesPerMs(format, 1000) / 1000;
      let audioMs = 0;
      let carry: Buffer | undefined;
      const assembler = new WordAssembler();
      for await (const part of parts) {
        if (!part.audioBase64) continue;
        timing.firstByteAt ??= performance.now();
        let data = Buffer.from(part.audioBase64, 'base64');
        if (carry) data = Buffer.concat([carry, data]);
        carry = undefined;
        if (format.encoding === 'pcm16' && data.length % 2 === 1) {
          carry = data.subarray(data.length - 1);
          data = data.subarray(0, data.length - 1);
        }
        const a = part.alignment;
        const words = a
          ? assembler.push(
              {
                chars: a.characters,
                starts: a.characterStartTimesSeconds.map((t) => t * 1000),
                ends: a.characterEndTimesSeconds.map((t) => t * 1000),
              },
              audioMs,
            )
          : [];
        audioMs += data.length / perMs;
        yield words.length ? { format, data, words } : { format, data };
      }
      // a last word that no space closed rides on an empty chunk (its times are already relative to the utterance)
      const last = assembler.take();
      if (last) yield { format, data: new Uint8Array(0), words: [last] };
      timing.doneAt = performance.now();
    } catch (err) {
      if (signal.aborted) throw abortedError(this.id, 'tts');
      throw classify(err, { provider: this.id, kind: 'tts', secrets: [this.opts.apiKey] });
    }
  }

  openTextStream(request: Omit<TtsRequest, 'text'>, signal: AbortSignal): TtsTextStream {
    const apiKey = this.opts.apiKey;
    if (!apiKey) return failedTextStream(unavailable(this.id, 'tts', 'elevenlabs tts: set ELEVENLABS_API_KEY'));
    const settings = this.wsSettings(apiKey, request);
    if (this.opts.textStream === 'single') return new ElevenLabsSocket(settings, false).open(undefined, signal);
    // one socket per (voice, format, settings): a different request gets its own socket
    const same = this.socket && !this.socket.closed && sameSettings(this.socket.settings, settings);
    if (!same) {
      this.socket?.shutdown();
      this.socket = new ElevenLabsSocket(settings, true);
      this.socket.onIdle = () => this.armIdle();
    }
    clearTimeout(this.idleTimer);
    return this.socket!.open(randomUUID(), signal);
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    const socket = this.socket;
    this.idleTimer = setTimeout(() => {
      if (socket && socket === this.socket && socket.live === 0) {
        socket.shutdown();
        this.socket = undefined;
      }
    }, IDLE_SOCKET_MS);
    this.idleTimer.unref();
  }

  private wsSettings(apiKey: string, request: Omit<TtsRequest, 'text'>): ElevenLabsWsSettings {
    const { param, format } = elevenLabsFormat(request.format);
    const query = new URLSearchParams({
      model_id: request.model ?? this.opts.model ?? ELEVENLABS_DEFAULT_MODEL,
      output_format: param,
      inactivity_timeout: String(this.opts.inactivityTimeoutS ?? 60),
    });
    if (request.language) query.set('language_code', request.language.slice(0, 2));
    const speed = clampSpeed(request.speed, TTS_SPEED.elevenlabs!);
    return {
      apiKey,
      base: this.base.replace(/^http/, 'ws'),
      voice: request.voice ?? this.opts.voice ?? ELEVENLABS_DEFAULT_VOICE,
      query,
      format,
      voiceSettings: { stability: 0.5, similarity_boost: 0.8, ...(speed ? { speed } : {}) },
      chunkLengthSchedule: this.opts.chunkLengthSchedule ?? ELEVENLABS_CHUNK_SCHEDULE,
    };
  }
}

function sameSettings(a: ElevenLabsWsSettings, b: ElevenLabsWsSettings): boolean {
  return a.voice === b.voice && String(a.query) === String(b.query) && a.voiceSettings.speed === b.voiceSettings.speed;
}

/** A text stream that fails at once (no key): the resilience wrapper falls back with the whole text. */
function failedTextStream(err: Error): TtsTextStream {
  return {
    timing: {},
    pushText() {},
    end() {},
    close() {},
    audio: {
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(err) }),
    },
  };
}
