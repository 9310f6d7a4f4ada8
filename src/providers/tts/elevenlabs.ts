/**
 * ElevenLabs TTS. Two modes:
 * - synthesize(): streaming HTTP through @elevenlabs/elevenlabs-js
 *   (`POST /v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000|pcm_16000...`);
 * - openTextStream(): the stream-input WebSocket (`/v1/text-to-speech/{voice_id}/stream-input`) for text that
 *   arrives incrementally from the LLM. The SDK does not wrap it, so it is spoken with `ws` per the documented
 *   protocol: BOS {"text":" ", voice_settings, xi_api_key}, text chunks {"text"}, EOS {"text":""}; the server
 *   answers {"audio": base64, "isFinal", "alignment"} and a last {"isFinal": true}.
 * ulaw_8000 goes to a telephony leg with no transcoding.
 */
import { ElevenLabsClient } from '@elevenlabs/elevenlabs-js';
import WebSocket from 'ws';
import {
  type AudioChunk,
  type AudioFormat,
  MULAW_8K,
  PCM_8K,
  PCM_16K,
  PCM_24K,
  pcmFormat,
} from '../../audio/format.js';
import { abortedError, classify, codeForStatus, scrub, unavailable } from '../classify.js';
import { ProviderError, type Timing, type TtsProvider, type TtsRequest, type TtsTextStream } from '../types.js';
import { audioChunks } from './body.js';

export interface ElevenLabsTtsOptions {
  apiKey?: string;
  baseUrl?: string;
  model?: string;
  voice?: string;
}

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

  constructor(private readonly opts: ElevenLabsTtsOptions) {
    this.base = (opts.baseUrl ?? 'https://api.elevenlabs.io').replace(/\/+$/, '');
    if (opts.apiKey) this.client = new ElevenLabsClient({ apiKey: opts.apiKey, baseUrl: this.base, maxRetries: 0 });
  }

  async *synthesize(request: TtsRequest, signal: AbortSignal, timing: Timing = {}): AsyncIterable<AudioChunk> {
    if (!this.client) throw unavailable(this.id, 'tts', 'elevenlabs tts: set ELEVENLABS_API_KEY');
    if (signal.aborted) throw abortedError(this.id, 'tts');
    const { param, format } = elevenLabsFormat(request.format);
    timing.requestSentAt = performance.now();
    try {
      const body = await this.client.textToSpeech.stream(
        request.voice ?? this.opts.voice ?? ELEVENLABS_DEFAULT_VOICE,
        {
          text: request.text,
          modelId: request.model ?? this.opts.model ?? ELEVENLABS_DEFAULT_MODEL,
          outputFormat: param as never,
          ...(request.language ? { languageCode: request.language.slice(0, 2) } : {}),
          ...(request.speed ? { voiceSettings: { speed: request.speed } } : {}),
        },
        { abortSignal: signal, maxRetries: 0 },
      );
      yield* audioChunks(body as unknown as AsyncIterable<Uint8Array>, format, timing);
    } catch (err) {
      if (signal.aborted) throw abortedError(this.id, 'tts');
      throw classify(err, { provider: this.id, kind: 'tts', secrets: [this.opts.apiKey] });
    }
  }

  openTextStream(request: Omit<TtsRequest, 'text'>, signal: AbortSignal): TtsTextStream {
    return new StreamInput(this.base, this.opts, request, signal);
  }
}

/** One stream-input WebSocket = one utterance. */
class StreamInput implements TtsTextStream {
  readonly timing: Timing = {};
  readonly audio: AsyncIterable<AudioChunk>;
  private readonly ws: WebSocket | undefined;
  private readonly format: AudioFormat;
  private readonly outbox: string[] = [];
  private readonly chunks: AudioChunk[] = [];
  private failure: ProviderError | undefined;
  private done = false;
  private wake: (() => void) | undefined;
  private ended = false;

  constructor(
    base: string,
    private readonly opts: ElevenLabsTtsOptions,
    request: Omit<TtsRequest, 'text'>,
    signal: AbortSignal,
  ) {
    const { param, format } = elevenLabsFormat(request.format);
    this.format = format;
    this.audio = this.iterate();
    if (!opts.apiKey) {
      this.fail(unavailable('elevenlabs', 'tts', 'elevenlabs tts: set ELEVENLABS_API_KEY'));
      return;
    }
    const voice = encodeURIComponent(request.voice ?? opts.voice ?? ELEVENLABS_DEFAULT_VOICE);
    const q = new URLSearchParams({
      model_id: request.model ?? opts.model ?? ELEVENLABS_DEFAULT_MODEL,
      output_format: param,
    });
    if (request.language) q.set('language_code', request.language.slice(0, 2));
    const url = `${base.replace(/^http/, 'ws')}/v1/text-to-speech/${voice}/stream-input?${q}`;
    this.timing.requestSentAt = performance.now();
    const ws = new WebSocket(url, { headers: { 'xi-api-key': opts.apiKey } });
    this.ws = ws;
    ws.on('open', () => {
      const bos = {
        text: ' ',
        voice_settings: { stability: 0.5, similarity_boost: 0.8, ...(request.speed ? { speed: request.speed } : {}) },
        xi_api_key: opts.apiKey,
      };
      ws.send(JSON.stringify(bos));
      for (const m of this.outbox.splice(0)) ws.send(m);
    });
    ws.on('message', (data) => this.onMessage(String(data)));
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 500;
      const retryAfter = Number(res.headers['retry-after']);
      this.fail(
        new ProviderError({
          provider: 'elevenlabs',
          kind: 'tts',
          code: codeForStatus(status),
          status,
          message: `elevenlabs tts: HTTP ${status} at stream-input connect`,
          retryAfterMs: status === 429 && Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined,
        }),
      );
      res.resume();
      ws.terminate();
    });
    ws.on('error', (err) => this.fail(classify(err, { provider: 'elevenlabs', kind: 'tts', secrets: [opts.apiKey] })));
    ws.on('close', (code, reason) => {
      if (this.done) return;
      const why = scrub(reason.toString(), [opts.apiKey]);
      if (code === 1008)
        this.fail(
          new ProviderError({
            provider: 'elevenlabs',
            kind: 'tts',
            code: 'auth',
            message: `elevenlabs tts: closed 1008 ${why}`,
          }),
        );
      else
        this.fail(
          new ProviderError({
            provider: 'elevenlabs',
            kind: 'tts',
            code: 'connection',
            message: `elevenlabs tts: socket closed (${code}) before isFinal`,
          }),
        );
    });
    signal.addEventListener('abort', () => this.close(), { once: true });
  }

  private onMessage(text: string): void {
    let msg: { audio?: string | null; isFinal?: boolean | null; error?: string; message?: string };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      this.fail(
        new ProviderError({
          provider: 'elevenlabs',
          kind: 'tts',
          code: 'malformed',
          message: 'elevenlabs tts: unparseable stream-input message',
        }),
      );
      this.ws?.terminate();
      return;
    }
    if (msg.error) {
      const code = /api_key|auth|quota/.test(msg.error) ? 'auth' : 'bad_request';
      this.fail(
        new ProviderError({
          provider: 'elevenlabs',
          kind: 'tts',
          code,
          message: `elevenlabs tts: ${msg.error}: ${scrub(String(msg.message ?? ''), [this.opts.apiKey])}`,
        }),
      );
      return;
    }
    if (msg.audio) {
      this.timing.firstByteAt ??= performance.now();
      this.chunks.push({ format: this.format, data: Buffer.from(msg.audio, 'base64') });
    }
    if (msg.isFinal) {
      this.done = true;
      this.timing.doneAt = performance.now();
      this.ws?.close(1000);
    }
    this.wake?.();
  }

  private fail(err: ProviderError): void {
    if (this.done) return;
    this.failure ??= err;
    this.done = true;
    this.wake?.();
  }

  private send(obj: unknown): void {
    const m = JSON.stringify(obj);
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(m);
    else if (this.ws?.readyState === WebSocket.CONNECTING) this.outbox.push(m);
  }

  pushText(text: string): void {
    if (this.ended || this.done || !text) return;
    this.send({ text });
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.send({ text: '' }); // EOS: generate what is left, then isFinal
  }

  close(): void {
    if (!this.done) {
      this.done = true;
      this.failure ??= abortedError('elevenlabs', 'tts');
    }
    this.ws?.terminate();
    this.wake?.();
  }

  private async *iterate(): AsyncGenerator<AudioChunk> {
    for (;;) {
      while (this.chunks.length) yield this.chunks.shift()!;
      if (this.done) {
        while (this.chunks.length) yield this.chunks.shift()!;
        if (this.failure && this.failure.code !== 'aborted') throw this.failure;
        return;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}
