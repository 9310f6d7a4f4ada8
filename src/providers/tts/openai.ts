/**
 * OpenAI speech (`POST /v1/audio/speech`) with response_format=pcm: raw 24 kHz PCM16 little-endian, streamed as it
 * is generated. Works with OpenAI-compatible servers through baseURL.
 */
import type OpenAI from 'openai';
import { type AudioChunk, type AudioFormat, PCM_24K } from '../../audio/format.js';
import { abortedError, classify, unavailable } from '../classify.js';
import { openAiClient } from '../openai-client.js';
import type { Timing, TtsProvider, TtsRequest } from '../types.js';
import { audioChunks } from './body.js';
import { clampSpeed, TTS_SPEED } from './speed.js';

export interface OpenAiTtsOptions {
  apiKey?: string;
  baseURL?: string;
  model?: string;
  voice?: string;
}

export const OPENAI_TTS_VOICES = [
  'alloy',
  'ash',
  'ballad',
  'coral',
  'echo',
  'fable',
  'nova',
  'onyx',
  'sage',
  'shimmer',
  'verse',
  'marin',
  'cedar',
] as const;

export class OpenAiTts implements TtsProvider {
  readonly id = 'openai';
  readonly formats: readonly AudioFormat[] = [PCM_24K];
  private readonly client: OpenAI | undefined;

  constructor(private readonly opts: OpenAiTtsOptions) {
    this.client = openAiClient({ apiKey: opts.apiKey, baseURL: opts.baseURL, timeoutMs: 60_000 });
  }

  async *synthesize(request: TtsRequest, signal: AbortSignal, timing: Timing = {}): AsyncIterable<AudioChunk> {
    if (!this.client) throw unavailable(this.id, 'tts', 'openai tts: set OPENAI_API_KEY or OPENAI_BASE_URL');
    if (signal.aborted) throw abortedError(this.id, 'tts');
    const speed = clampSpeed(request.speed, TTS_SPEED.openai!);
    timing.requestSentAt = performance.now();
    try {
      const res = await this.client.audio.speech.create(
        {
          model: request.model ?? this.opts.model ?? 'gpt-4o-mini-tts',
          voice: request.voice ?? this.opts.voice ?? 'alloy',
          input: request.text,
          response_format: 'pcm',
          ...(speed ? { speed } : {}),
        },
        { signal },
      );
      if (!res.body) throw new Error('empty body');
      yield* audioChunks(res.body as unknown as AsyncIterable<Uint8Array>, PCM_24K, timing);
    } catch (err) {
      if (signal.aborted) throw abortedError(this.id, 'tts');
      throw classify(err, { provider: this.id, kind: 'tts', secrets: [this.opts.apiKey] });
    }
  }
}
