/**
 * OpenAI transcription per utterance (`POST /v1/audio/transcriptions`, multipart) through the `openai` SDK; any
 * OpenAI-compatible server (faster-whisper-server, vLLM, LocalAI...) works through baseURL.
 *
 * The API is not a live stream, so this adapter segments: audio (any engine format) is converted to 16 kHz PCM16,
 * the WebRTC VAD (src/audio/vad.ts) marks speech start / end, and each utterance (with 300 ms of pre-roll) is sent
 * as a WAV file. finalize() cuts the current utterance at once. With gpt-4o(-mini)-transcribe the response is
 * streamed (`stream: true`: SSE transcript.text.delta / transcript.text.done), which gives partials; whisper-1 and
 * most compatible servers answer one JSON object. Word timings are spread evenly over the utterance
 * (the json response has none); the transcript is exact.
 */
import type OpenAI from 'openai';
import { toFile } from 'openai';
import { AudioConverter, pcmBytesToInt16 } from '../../audio/convert.js';
import { type AudioFormat, MULAW_8K, PCM_8K, PCM_16K } from '../../audio/format.js';
import { createVad, type Vad } from '../../audio/vad.js';
import { encodeWav } from '../../audio/wav.js';
import { classify, unavailable } from '../classify.js';
import { openAiClient } from '../openai-client.js';
import type { AsrCapabilities, AsrEvent, AsrOptions, AsrProvider, AsrStream, Timing, Word } from '../types.js';
import { openRealtime } from './openai-realtime.js';

export interface OpenAiAsrOptions {
  apiKey?: string;
  baseURL?: string;
  model?: string;
  /**
   * 'realtime': one Realtime API socket per call, server VAD (src/providers/asr/openai-realtime.ts); 'upload': one
   * POST per utterance cut by our VAD. Default: realtime on api.openai.com, upload for compatible servers (most
   * implement only /v1/audio/transcriptions).
   */
  transport?: 'realtime' | 'upload';
}

const RATE = 16_000;
const PRE_ROLL = RATE * 0.3; // samples kept before speech start
const MAX_UTTERANCE = RATE * 30; // a longer utterance is cut here (the API limit is far above)
const SUB = 160; // 10 ms at 16 kHz: the VAD's step
/** Models that stream transcript deltas (OpenAI speech-to-text guide, "Streaming the transcription"). */
const STREAMING_MODEL = /^gpt-4o.*transcribe/;
/** `prompt` (where keyterms go) is refused by gpt-4o-transcribe-diarize; whisper-1 and the plain models take it. */
export function acceptsPrompt(model: string): boolean {
  return !/diarize/.test(model);
}

export class OpenAiAsr implements AsrProvider {
  readonly id = 'openai';
  readonly formats: readonly AudioFormat[] = [PCM_16K, PCM_8K, MULAW_8K];
  private readonly client: OpenAI | undefined;
  private readonly realtime: boolean;
  /** Upload: finalize() cuts the utterance at once. Realtime: the server VAD ends turns (finalize is a no-op). */
  readonly capabilities: AsrCapabilities;

  constructor(private readonly opts: OpenAiAsrOptions) {
    const official = opts.baseURL === undefined || /^https:\/\/api\.openai\.com/.test(opts.baseURL);
    this.realtime = (opts.transport ?? (official ? 'realtime' : 'upload')) === 'realtime';
    this.capabilities = this.realtime ? { interim: true } : { finalize: true };
    this.client = openAiClient({ apiKey: opts.apiKey, baseURL: opts.baseURL, timeoutMs: 30_000 });
  }

  async open(options: AsrOptions, onEvent: (event: AsrEvent) => void): Promise<AsrStream> {
    if (!this.client) throw unavailable(this.id, 'asr', 'openai asr: set OPENAI_API_KEY or OPENAI_BASE_URL');
    if (this.realtime) {
      const model = options.model ?? this.opts.model ?? 'gpt-4o-mini-transcribe';
      return openRealtime(
        {
          apiKey: this.opts.apiKey ?? 'none',
          baseURL: this.opts.baseURL ?? 'https://api.openai.com/v1',
          model,
          prompt: options.keyterms?.length && acceptsPrompt(model) ? options.keyterms.join(', ') : undefined,
        },
        options,
        onEvent,
      );
    }
    const vad = await createVad({ sampleRate: RATE, hangoverMs: options.endpointingMs ?? 500 });
    return new UtteranceStream(this.client, this.opts, options, vad, onEvent);
  }
}

class UtteranceStream implements AsrStream {
  readonly timing: Timing = {};
  private readonly converter: AudioConverter;
  private readonly buf = new Int16Array(MAX_UTTERANCE);
  private len = 0;
  /** Samples processed by the VAD (a prefix of buf). */
  private vadPos = 0;
  /** Stream time (samples) of buf[0]. */
  private base = 0;
  private speaking = false;
  /** Speech was detected since the last cut: only then is there anything to transcribe. */
  private heard = false;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly ctrl = new AbortController();

  constructor(
    private readonly client: OpenAI,
    private readonly opts: OpenAiAsrOptions,
    private readonly options: AsrOptions,
    private readonly vad: Vad,
    private readonly onEvent: (e: AsrEvent) => void,
  ) {
    this.converter = new AudioConverter(options.format, PCM_16K);
    vad.onSpeechStart = (atMs) => {
      this.speaking = true;
      this.heard = true;
      this.onEvent({ type: 'speech_started', atMs });
    };
    vad.onSpeechEnd = () => {
      this.speaking = false;
      this.cut();
    };
  }

  write(audio: Uint8Array): void {
    if (this.closed) return;
    const pcm = pcmBytesToInt16(this.converter.convert(audio));
    let off = 0;
    while (off < pcm.length) {
      const n = Math.min(pcm.length - off, this.buf.length - this.len);
      this.buf.set(pcm.subarray(off, off + n), this.len);
      this.len += n;
      off += n;
      while (this.len - this.vadPos >= SUB) {
        this.vad.process(this.buf.subarray(this.vadPos, this.vadPos + SUB));
        this.vadPos += SUB;
      }
      if (this.len === this.buf.length) this.cut();
    }
    // Not in speech: keep only the pre-roll, so the buffer never holds silence.
    if (!this.speaking && this.vadPos > PRE_ROLL * 2) this.drop(this.vadPos - PRE_ROLL);
  }

  private drop(n: number): void {
    this.buf.copyWithin(0, n, this.len);
    this.len -= n;
    this.vadPos -= n;
    this.base += n;
  }

  /** Sends buf[0..vadPos) as one utterance (if it is long enough to hold speech). */
  private cut(): void {
    const n = this.vadPos;
    if (!this.heard || n < RATE * 0.2) return;
    this.heard = false;
    const segment = this.buf.slice(0, n);
    const startMs = (this.base * 1000) / RATE;
    this.drop(n);
    this.queue = this.queue.then(() => this.transcribe(segment, startMs));
  }

  private async transcribe(segment: Int16Array, startMs: number): Promise<void> {
    if (this.ctrl.signal.aborted) return;
    this.timing.requestSentAt ??= performance.now();
    try {
      const file = await toFile(encodeWav(segment, RATE), 'utterance.wav', { type: 'audio/wav' });
      const model = this.options.model ?? this.opts.model ?? 'gpt-4o-mini-transcribe';
      const params = {
        file,
        model,
        ...(this.options.language ? { language: this.options.language.slice(0, 2) } : {}),
        ...(this.options.keyterms?.length && acceptsPrompt(model) ? { prompt: this.options.keyterms.join(', ') } : {}),
      };
      let text: string;
      if (STREAMING_MODEL.test(model) && this.options.interimResults !== false) {
        // gpt-4o(-mini)-transcribe stream text deltas (SSE): each becomes a partial, `done` the final text
        const events = await this.client.audio.transcriptions.create(
          { ...params, stream: true },
          { signal: this.ctrl.signal },
        );
        let partial = '';
        let done: string | undefined;
        for await (const ev of events) {
          this.timing.firstByteAt ??= performance.now();
          if (ev.type === 'transcript.text.delta') {
            partial += ev.delta;
            if (partial.trim()) this.onEvent({ type: 'partial', text: partial.trim(), words: [] });
          } else if (ev.type === 'transcript.text.done') done = ev.text;
        }
        text = (done ?? partial).trim();
      } else {
        const res = await this.client.audio.transcriptions.create(params, { signal: this.ctrl.signal });
        this.timing.firstByteAt ??= performance.now();
        text = (res.text ?? '').trim();
      }
      const durMs = (segment.length * 1000) / RATE;
      const tokens = text.split(/\s+/).filter(Boolean);
      const words: Word[] = tokens.map((word, i) => ({
        word,
        startMs: Math.round(startMs + (i * durMs) / tokens.length),
        endMs: Math.round(startMs + ((i + 1) * durMs) / tokens.length),
      }));
      if (text) this.onEvent({ type: 'final', text, words, speechFinal: true });
      this.onEvent({ type: 'utterance_end', lastWordEndMs: Math.round(startMs + durMs) });
    } catch (err) {
      if (this.ctrl.signal.aborted) return;
      const error = classify(err, { provider: 'openai', kind: 'asr', secrets: [this.opts.apiKey] });
      // one utterance lost on a transient error; a key or request the server refuses will fail every time
      this.onEvent({
        type: 'error',
        error,
        fatal: error.code === 'auth' || error.code === 'bad_request' || error.code === 'unavailable',
      });
    }
  }

  finalize(): void {
    this.speaking = false;
    this.vad.reset();
    this.vadPos = this.len; // include what the VAD has not stepped over yet
    this.cut();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.finalize();
    this.closed = true;
    await this.queue;
    this.timing.doneAt = performance.now();
    this.onEvent({ type: 'closed' });
  }
}
