/**
 * OpenAI streaming transcription over the Realtime API (`wss://.../v1/realtime?intent=transcription`), spoken with
 * `ws` (GA event names, as in the `openai` SDK's realtime types): one socket per call instead of one upload per
 * utterance, the server's VAD segments.
 *
 *   client                                              server
 *   session.update {type:"transcription", audio.input:  <- session.created / session.updated
 *     format audio/pcmu (G.711 mu-law 8 kHz, "g711_ulaw"),
 *     transcription {model, language, prompt},
 *     turn_detection server_vad}
 *   input_audio_buffer.append {audio: base64}       ->  <- input_audio_buffer.speech_started {audio_start_ms}
 *                                                       <- input_audio_buffer.speech_stopped / committed
 *                                                       <- conversation.item.input_audio_transcription.delta
 *                                                       <- conversation.item.input_audio_transcription.completed
 *                                                       <- error {error:{type, code, message}}
 *
 * finalize() is a no-op: the server VAD commits each turn itself (a manual commit on every local pause would split
 * sentences and, on an empty buffer, draw input_audio_buffer_commit_empty errors).
 * Audio in another format is converted to mu-law 8 kHz here. Word timings are spread over the VAD's speech span.
 */
import WebSocket from 'ws';
import { AudioConverter } from '../../audio/convert.js';
import { MULAW_8K, sameFormat } from '../../audio/format.js';
import { classify, codeForStatus, isQuota, scrub, upgradeRejection } from '../classify.js';
import { type AsrEvent, type AsrOptions, type AsrStream, ProviderError, type Timing, type Word } from '../types.js';

export interface RealtimeSettings {
  apiKey: string;
  /** https://api.openai.com/v1 (or a compatible base); ws(s) is derived from it. */
  baseURL: string;
  model: string;
  prompt?: string;
}

interface ServerEvent {
  type?: string;
  item_id?: string;
  audio_start_ms?: number;
  audio_end_ms?: number;
  delta?: string;
  transcript?: string;
  error?: { type?: string; code?: string; message?: string };
}

const OPEN = 1;

export function openRealtime(
  settings: RealtimeSettings,
  options: AsrOptions,
  onEvent: (e: AsrEvent) => void,
): Promise<AsrStream> {
  const stream = new RealtimeStream(settings, options, onEvent);
  return stream.ready.then(() => stream);
}

class RealtimeStream implements AsrStream {
  readonly timing: Timing = {};
  readonly ready: Promise<void>;
  private readonly ws: WebSocket;
  private readonly converter: AudioConverter | undefined;
  private closing = false;
  private closed = false;
  /** Per item: partial text and its speech span (ms of the audio written). */
  private readonly items = new Map<string, { text: string; startMs: number; endMs?: number }>();

  constructor(
    private readonly settings: RealtimeSettings,
    options: AsrOptions,
    private readonly onEvent: (e: AsrEvent) => void,
  ) {
    this.converter = sameFormat(options.format, MULAW_8K) ? undefined : new AudioConverter(options.format, MULAW_8K);
    const url = `${settings.baseURL.replace(/^http/, 'ws').replace(/\/+$/, '')}/realtime?intent=transcription`;
    this.timing.requestSentAt = performance.now();
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${settings.apiKey}` } });
    this.ws = ws;
    this.ready = new Promise<void>((resolve, reject) => {
      ws.once('open', () => {
        this.send({
          type: 'session.update',
          session: {
            type: 'transcription',
            audio: {
              input: {
                format: { type: 'audio/pcmu' },
                transcription: {
                  model: options.model ?? settings.model,
                  ...(options.language ? { language: options.language.slice(0, 2) } : {}),
                  ...(settings.prompt ? { prompt: settings.prompt } : {}),
                },
                turn_detection: {
                  type: 'server_vad',
                  silence_duration_ms: options.endpointingMs ?? 500,
                  prefix_padding_ms: 300,
                },
              },
            },
          },
        });
        resolve();
      });
      ws.once('unexpected-response', (_req, res) =>
        upgradeRejection(res, { provider: 'openai', kind: 'asr', what: 'realtime' }, (err) => {
          reject(err);
          ws.terminate();
        }),
      );
      ws.once('error', (err) => reject(classify(err, { provider: 'openai', kind: 'asr', secrets: [settings.apiKey] })));
    });
    ws.on('error', () => {}); // after open, failures arrive as the close
    ws.on('message', (data) => this.onMessage(String(data)));
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
  }

  private send(obj: Record<string, unknown>): void {
    if (this.ws.readyState === OPEN) this.ws.send(JSON.stringify(obj));
  }

  private onMessage(text: string): void {
    let m: ServerEvent;
    try {
      m = JSON.parse(text) as ServerEvent;
    } catch {
      this.onEvent({ type: 'error', error: this.err('malformed', 'unparseable realtime event'), fatal: false });
      return;
    }
    this.timing.firstByteAt ??= performance.now();
    const id = m.item_id ?? '';
    switch (m.type) {
      case 'input_audio_buffer.speech_started':
        this.items.set(id, { text: '', startMs: m.audio_start_ms ?? 0 });
        this.onEvent({ type: 'speech_started', atMs: m.audio_start_ms });
        return;
      case 'input_audio_buffer.speech_stopped': {
        const item = this.items.get(id);
        if (item) item.endMs = m.audio_end_ms;
        return;
      }
      case 'conversation.item.input_audio_transcription.delta': {
        const item = this.items.get(id) ?? { text: '', startMs: 0 };
        this.items.set(id, item);
        item.text += m.delta ?? '';
        if (item.text.trim()) this.onEvent({ type: 'partial', text: item.text.trim(), words: [] });
        return;
      }
      case 'conversation.item.input_audio_transcription.completed': {
        const item = this.items.get(id) ?? { text: '', startMs: 0 };
        this.items.delete(id);
        const final = (m.transcript ?? item.text).trim();
        const endMs = item.endMs ?? item.startMs;
        if (final)
          this.onEvent({ type: 'final', text: final, words: spread(final, item.startMs, endMs), speechFinal: true });
        this.onEvent({ type: 'utterance_end', lastWordEndMs: endMs });
        return;
      }
      case 'error': {
        const e = m.error ?? {};
        const name = `${e.type ?? ''} ${e.code ?? ''}`;
        const code = isQuota(name)
          ? 'quota'
          : /invalid_api_key|authentication/.test(name)
            ? 'auth'
            : /server_error/.test(name)
              ? 'server'
              : 'bad_request';
        this.onEvent({
          type: 'error',
          error: this.err(code, `${e.code ?? e.type ?? 'error'}: ${e.message ?? ''}`),
          fatal: code === 'auth' || code === 'quota',
        });
        return;
      }
      default:
        return; // session.created / updated, committed, future events
    }
  }

  private err(code: ProviderError['code'], message: string): ProviderError {
    return new ProviderError({
      provider: 'openai',
      kind: 'asr',
      code,
      message: `openai asr: ${scrub(message, [this.settings.apiKey])}`,
    });
  }

  private onClose(code: number, reason: string): void {
    if (this.closed) return;
    if (!this.closing)
      this.onEvent({
        type: 'error',
        error: this.err(
          code === 1008 ? codeForStatus(401, reason) : 'connection',
          `realtime closed (${code}) ${reason}`,
        ),
        fatal: true,
      });
    this.closed = true;
    this.timing.doneAt = performance.now();
    this.onEvent({ type: 'closed' });
  }

  write(audio: Uint8Array): void {
    if (this.closing || this.closed) return;
    const ulaw = this.converter ? this.converter.convert(audio) : audio;
    if (ulaw.length) this.send({ type: 'input_audio_buffer.append', audio: Buffer.from(ulaw).toString('base64') });
  }

  finalize(): void {}

  async close(): Promise<void> {
    if (this.closing || this.closed) return;
    this.closing = true;
    const done = new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
    this.ws.close(1000);
    const timer = setTimeout(() => this.ws.terminate(), 2000);
    await done;
    clearTimeout(timer);
  }
}

/** Words spread evenly over the speech span (the transcription event has no word times). */
function spread(text: string, startMs: number, endMs: number): Word[] {
  const tokens = text.split(/\s+/).filter(Boolean);
  const dur = Math.max(0, endMs - startMs);
  return tokens.map((word, i) => ({
    word,
    startMs: Math.round(startMs + (i * dur) / tokens.length),
    endMs: Math.round(startMs + ((i + 1) * dur) / tokens.length),
  }));
}
