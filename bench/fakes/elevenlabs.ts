/**
 * Loopback fake of ElevenLabs, as strict as the documented service:
 * - HTTP streaming TTS `POST /v1/text-to-speech/{voice_id}/stream` (raw audio) and `.../stream/with-timestamps`
 *   (NDJSON {audio_base64, alignment{characters, character_start_times_seconds, character_end_times_seconds}},
 *   times from the start of the response). Output is MP3 unless `output_format` says otherwise (the API default
 *   mp3_44100_128); `voice_settings.speed` outside 0.7-1.2 is clamped.
 * - stream-input `/v1/text-to-speech/{voice_id}/stream-input` and multi-context `.../multi-stream-input` WebSockets:
 *   the first message of a context carries voice_settings / generation_config; text is buffered as the service does
 *   (generation when the buffer reaches the next chunk_length_schedule step, default [120,160,250,290], on `flush`,
 *   and at the end), concatenated verbatim (a chunk without its trailing space runs into the next word); audio comes
 *   as {audio, alignment{chars, charStartTimesMs, charDurationsMs}} with times relative to that chunk; `isFinal`
 *   ends an utterance (multi: per context, after close_context). Each context's first audio waits `firstByteMs`. A speed outside 0.7-1.2 yields no audio. No text
 *   for `inactivity_timeout` s (default 20) closes 1008 input_timeout_exceeded; more than 5 live contexts closes
 *   1008 max_active_conversations. Errors: an error frame {message, error, code} then the close.
 * - `GET /v1/voices`. Auth: `xi-api-key` header (or xi_api_key in the first message). HTTP errors use
 *   {"detail":{"status","message"}}; an exhausted quota is a 401 `quota_exceeded`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  chunks,
  closeServer,
  type FakeLatency,
  type FakeServer,
  type Fault,
  listen,
  readBody,
  record,
  sleep,
  synthAudio,
} from './common.js';

export interface ElevenLabsFakeOptions extends FakeLatency {
  apiKey?: string;
  voices?: { voice_id: string; name: string; labels?: Record<string, string> }[];
}

export interface ElevenLabsFake extends FakeServer {
  /** Text received per utterance (stream-input socket or multi-stream context), verbatim, in order. */
  streamedText: string[];
  /** Every WebSocket message received, parsed, in order (tests check flush / close_context / context ids). */
  wsMessages: Record<string, unknown>[];
}

const SPEED = { min: 0.7, max: 1.2 };
const DEFAULT_SCHEDULE = [120, 160, 250, 290];
const MAX_CONTEXTS = 5;

const DEFAULT_VOICES = [
  { voice_id: '21m00Tcm4TlvDq8ikWAM', name: 'Rachel', labels: { accent: 'american', gender: 'female' } },
  { voice_id: 'pNInz6obpgDQGcFmaJgB', name: 'Adam', labels: { accent: 'american', gender: 'male' } },
];

type Fmt = { encoding: 'pcm16' | 'mulaw' | 'mp3'; rate: number };

/** output_format as the API takes it; absent = mp3_44100_128. */
function parseFormat(f: string | null): Fmt | undefined {
  if (!f || /^mp3_(22050_32|44100_(32|64|96|128|192))$/.test(f)) return { encoding: 'mp3', rate: 44100 };
  if (f === 'ulaw_8000') return { encoding: 'mulaw', rate: 8000 };
  const m = /^pcm_(8000|16000|22050|24000|44100|48000)$/.exec(f);
  return m ? { encoding: 'pcm16', rate: Number(m[1]) } : undefined;
}

/** MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz: 417 bytes, 26 ms each) of silence, for the text's duration. */
function mp3Audio(text: string): Buffer {
  const frames = Math.ceil(Math.max(200, text.length * 60) / 26);
  const out = Buffer.alloc(frames * 417);
  for (let i = 0; i < frames; i++) out.writeUInt32BE(0xfffb9064, i * 417);
  return out;
}

function audioFor(text: string, fmt: Fmt): Buffer {
  return fmt.encoding === 'mp3' ? mp3Audio(text) : synthAudio(text, fmt.encoding, fmt.rate);
}

/** Evenly spaced character times over the synthetic audio (60 ms per character, at least 200 ms). */
function charTimes(text: string): { chars: string[]; starts: number[]; durations: number[] } {
  const chars = [...text];
  const per = Math.max(200, text.length * 60) / Math.max(1, chars.length);
  return { chars, starts: chars.map((_, i) => Math.round(i * per)), durations: chars.map(() => Math.round(per)) };
}

function sendErr(
  res: ServerResponse,
  status: number,
  statusCode: string,
  message: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ detail: { status: statusCode, message } }));
}

function rejectUpgrade(socket: Duplex, status: number, retryAfterS?: number) {
  const name: Record<number, string> = {
    400: 'invalid_output_format',
    404: 'not_found',
    429: 'too_many_concurrent_requests',
  };
  const body = JSON.stringify({ detail: { status: name[status] ?? 'internal_error', message: 'rejected' } });
  const extra = status === 429 ? `Retry-After: ${retryAfterS ?? 1}\r\n` : '';
  socket.end(
    `HTTP/1.1 ${status} Error\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
}

export async function startElevenLabsFake(options: ElevenLabsFakeOptions = {}): Promise<ElevenLabsFake> {
  const apiKey = options.apiKey ?? 'xi-test';
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<WebSocket>();
  const fake: ElevenLabsFake = {
    url: '',
    requests: [],
    faults: [],
    streamedText: [],
    wsMessages: [],
    close: async () => {
      for (const s of sockets) s.terminate();
      wss.close();
      await closeServer(server);
    },
  };

  async function stream(req: IncomingMessage, res: ServerResponse, timestamps: boolean) {
    const raw = await readBody(req);
    fake.requests.push(record(req, raw));
    if (req.headers['xi-api-key'] !== apiKey) return sendErr(res, 401, 'invalid_api_key', 'Invalid API key');
    const fault = fake.faults.shift();
    if (fault === 'unauthorized') return sendErr(res, 401, 'invalid_api_key', 'Invalid API key');
    if (fault === 'quota')
      return sendErr(res, 401, 'quota_exceeded', 'This request exceeds your quota. You have 0 credits remaining.');
    if (fault === 'rate_limited')
      return sendErr(res, 429, 'too_many_concurrent_requests', 'Too many concurrent requests', {
        'retry-after': String(options.retryAfterS ?? 1),
      });
    if (fault === 'server_error') return sendErr(res, 500, 'internal_error', 'Internal error');
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const fmt = parseFormat(q.get('output_format'));
    if (!fmt) return sendErr(res, 400, 'invalid_output_format', `Unsupported output format ${q.get('output_format')}`);
    let text = '';
    try {
      text = String((JSON.parse(raw.toString('utf8')) as { text?: string }).text ?? '');
    } catch {
      return sendErr(res, 422, 'invalid_json', 'Body is not JSON');
    }
    await sleep(fault === 'slow_first_byte' ? (options.slowFirstByteMs ?? 2000) : (options.firstByteMs ?? 0));
    res.writeHead(200, {
      'content-type': timestamps
        ? 'application/json'
        : fmt.encoding === 'mp3'
          ? 'audio/mpeg'
          : fmt.encoding === 'mulaw'
            ? 'audio/basic'
            : 'audio/pcm',
      'transfer-encoding': 'chunked',
    });
    const audio = audioFor(text, fmt);
    const bytesPerMs = fmt.encoding === 'mp3' ? 417 / 26 : (fmt.rate * (fmt.encoding === 'pcm16' ? 2 : 1)) / 1000;
    const parts = chunks(audio, Math.round(bytesPerMs * 100));
    const { chars, starts, durations } = charTimes(text);
    let sent = 0; // characters aligned so far
    for (let i = 0; i < parts.length; i++) {
      if (res.destroyed) return;
      if (i > 0) await sleep(options.chunkMs ?? 0);
      let out: Buffer | string = parts[i]!;
      if (timestamps) {
        // the characters whose start falls in this chunk, times from the start of the response
        const endMs = (i + 1) * 100;
        let n = sent;
        while (n < chars.length && starts[n]! < endMs) n++;
        const idx = chars.slice(sent, n).map((_, k) => sent + k);
        out = `${JSON.stringify({
          audio_base64: parts[i]!.toString('base64'),
          alignment: idx.length
            ? {
                characters: idx.map((k) => chars[k]),
                character_start_times_seconds: idx.map((k) => starts[k]! / 1000),
                character_end_times_seconds: idx.map((k) => (starts[k]! + durations[k]!) / 1000),
              }
            : null,
          normalized_alignment: null,
        })}\n`;
        sent = n;
      }
      if (fault === 'drop' && i === 0) {
        res.write(out, () => setTimeout(() => req.socket.end(), 20));
        return;
      }
      res.write(out);
    }
    res.end();
  }

  /** One WebSocket: stream-input (one unnamed context) or multi-stream-input (contexts by context_id). */
  function textSocket(ws: WebSocket, req: IncomingMessage, fault: Fault | undefined, multi: boolean) {
    sockets.add(ws);
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const fmt = parseFormat(q.get('output_format'))!;
    const inactivityMs = Number(q.get('inactivity_timeout') ?? 20) * 1000;
    let authed = req.headers['xi-api-key'] === apiKey;
    let generations = 0;
    let queue = Promise.resolve();
    interface Ctx {
      id: string | undefined;
      pending: string;
      all: string;
      schedule: number[];
      step: number;
      /** Generations of this context (its first waits firstByteMs). */
      generated: number;
      mute: boolean;
      closed: boolean;
    }
    const contexts = new Map<string, Ctx>();
    const fail = (error: string, message: string) => {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(JSON.stringify({ message, error, code: 1008 }));
      ws.close(1008, error);
    };
    let idle: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(
        () => fail('input_timeout_exceeded', `Have not received new text for ${inactivityMs / 1000} seconds.`),
        inactivityMs,
      );
      idle.unref();
    };
    const tag = (ctx: Ctx, msg: Record<string, unknown>) => (multi ? { ...msg, contextId: ctx.id } : msg);
    const generate = (ctx: Ctx, text: string) => {
      queue = queue.then(async () => {
        if (!text.trim() || ws.readyState !== ws.OPEN || ctx.closed) return;
        await sleep(
          generations === 0 && fault === 'slow_first_byte'
            ? (options.slowFirstByteMs ?? 2000)
            : ctx.generated === 0
              ? (options.firstByteMs ?? 0)
              : (options.chunkMs ?? 0),
        );
        generations++;
        ctx.generated++;
        if (ws.readyState !== ws.OPEN || ctx.closed || ctx.mute) return;
        if (fault === 'malformed' && generations === 1) {
          ws.send('{"audio":"AAAA", "isFinal":');
          return;
        }
        const { chars, starts, durations } = charTimes(text);
        ws.send(
          JSON.stringify(
            tag(ctx, {
              audio: audioFor(text, fmt).toString('base64'),
              isFinal: null,
              normalizedAlignment: null,
              alignment: { chars, charStartTimesMs: starts, charDurationsMs: durations },
            }),
          ),
        );
        if (fault === 'drop' && generations === 1) ws.terminate();
      });
    };
    const flush = (ctx: Ctx) => {
      generate(ctx, ctx.pending);
      ctx.pending = '';
    };
    const finish = (ctx: Ctx) => {
      fake.streamedText.push(ctx.all);
      queue = queue.then(() => {
        if (ws.readyState !== ws.OPEN) return;
        ws.send(JSON.stringify(tag(ctx, { isFinal: true })));
        ctx.closed = true;
        if (!multi) ws.close(1000);
      });
    };
    touch();
    ws.on('message', (data: Buffer) => {
      let msg: {
        text?: string | null;
        xi_api_key?: string;
        flush?: boolean;
        try_trigger_generation?: boolean;
        context_id?: string;
        close_context?: boolean;
        close_socket?: boolean;
        voice_settings?: { speed?: number };
        generation_config?: { chunk_length_schedule?: number[] };
      };
      try {
        msg = JSON.parse(data.toString('utf8')) as typeof msg;
      } catch {
        ws.close(1007, 'Invalid JSON');
        return;
      }
      fake.wsMessages.push(msg as Record<string, unknown>);
      if (msg.xi_api_key === apiKey) authed = true;
      if (fault === 'unauthorized') authed = false;
      if (!authed) return fail('invalid_api_key', 'Invalid API key');
      if (fault === 'quota') return fail('quota_exceeded', 'This request exceeds your quota.');
      if (fault === 'input_timeout')
        return fail('input_timeout_exceeded', 'Have not received new text for 20 seconds.');
      touch();
      if (multi && msg.close_socket) {
        for (const ctx of contexts.values()) if (!ctx.closed) flush(ctx);
        queue = queue.then(() => ws.close(1000));
        return;
      }
      const key = multi ? (msg.context_id ?? 'default') : '';
      let ctx = contexts.get(key);
      if (!ctx || ctx.closed) {
        // the first message of a context: its settings; text " "
        if (multi && [...contexts.values()].filter((c) => !c.closed).length >= MAX_CONTEXTS)
          return fail(
            'max_active_conversations',
            `Maximum simultaneous contexts per WebSocket connection exceeded (${MAX_CONTEXTS}).`,
          );
        const speed = msg.voice_settings?.speed;
        ctx = {
          id: multi ? key : undefined,
          pending: '',
          all: '',
          schedule: msg.generation_config?.chunk_length_schedule ?? DEFAULT_SCHEDULE,
          step: 0,
          generated: 0,
          mute: speed !== undefined && (speed < SPEED.min || speed > SPEED.max),
          closed: false,
        };
        contexts.set(key, ctx);
        if (msg.close_context) ctx.closed = true;
        return;
      }
      if (multi && msg.close_context) {
        // what was flushed goes on; unflushed text is dropped; then isFinal for the context
        ctx.pending = '';
        finish(ctx);
        return;
      }
      const text = msg.text ?? '';
      if (!multi && text === '') {
        // EOS: generate the rest, then isFinal, then close (the real service closes after isFinal)
        flush(ctx);
        finish(ctx);
        return;
      }
      ctx.pending += text;
      ctx.all += text;
      const need = ctx.schedule[Math.min(ctx.step, ctx.schedule.length - 1)]!;
      if (msg.flush || ctx.pending.length >= need) {
        if (!msg.flush) ctx.step++;
        flush(ctx);
      }
    });
    ws.on('close', () => {
      clearTimeout(idle);
      sockets.delete(ws);
    });
    ws.on('error', () => sockets.delete(ws));
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const http = /^\/v1\/text-to-speech\/[^/]+\/stream(\/with-timestamps)?$/.exec(path);
    if (req.method === 'POST' && http) {
      stream(req, res, http[1] !== undefined).catch(() => res.destroy());
      return;
    }
    fake.requests.push(record(req));
    if (req.method === 'GET' && path === '/v1/voices') {
      if (req.headers['xi-api-key'] !== apiKey) return sendErr(res, 401, 'invalid_api_key', 'Invalid API key');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          voices: (options.voices ?? DEFAULT_VOICES).map((v) => ({
            ...v,
            category: 'premade',
            labels: v.labels ?? {},
            preview_url: null,
            settings: null,
          })),
        }),
      );
      return;
    }
    sendErr(res, 404, 'not_found', `Unknown path ${path}`);
  });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    fake.requests.push(record(req));
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const m = /^\/v1\/text-to-speech\/[^/]+\/(stream-input|multi-stream-input)$/.exec(path);
    if (!m) return rejectUpgrade(socket, 404);
    if (!parseFormat(new URL(req.url ?? '/', 'http://x').searchParams.get('output_format')))
      return rejectUpgrade(socket, 400);
    const fault = fake.faults.shift();
    if (fault === 'rate_limited') return rejectUpgrade(socket, 429, options.retryAfterS);
    if (fault === 'server_error') return rejectUpgrade(socket, 500);
    wss.handleUpgrade(req, socket, head, (ws) => textSocket(ws, req, fault, m[1] === 'multi-stream-input'));
  });
  (fake as { url: string }).url = await listen(server);
  return fake;
}
