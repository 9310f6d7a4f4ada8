/**
 * Loopback fake of the OpenAI REST API (and OpenAI-compatible servers): SSE chat completions with tool-call deltas
 * and usage, /v1/audio/speech (streamed PCM 24 kHz), /v1/audio/transcriptions (multipart), /v1/embeddings (float
 * or base64, as the SDK asks), /v1/models. Auth: `Authorization: Bearer KEY`; errors use OpenAI's shape
 * {"error":{"message","type","param","code"}}: 401 invalid_api_key (type invalid_request_error); 429 rate limits
 * with type "requests" or "tokens" and code rate_limit_exceeded; 429 insufficient_quota (type and code) when the
 * account is out of credit. Parameter checks as the API makes them: reasoning models (gpt-5*, o-series) refuse
 * `temperature` and `max_tokens`, other models refuse `reasoning_effort`; gpt-4o-transcribe-diarize refuses `prompt`.
 * The Realtime transcription socket is in bench/fakes/openai-realtime.ts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { WebSocketServer } from 'ws';
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
import { onRealtimeSocket, type RealtimeFakeOptions } from './openai-realtime.js';

export interface ChatScriptReply {
  text?: string;
  toolCalls?: { name: string; arguments: string }[];
}

export interface OpenAiFakeOptions extends FakeLatency, RealtimeFakeOptions {
  /** The limit a rate_limited fault names: "requests" (RPM, default) or "tokens" (TPM). */
  rateLimitType?: 'requests' | 'tokens';
  apiKey?: string;
  /** What the chat endpoint answers; a function sees the parsed request body. */
  chat?: ChatScriptReply | ((body: Record<string, unknown>) => ChatScriptReply);
  /** What the transcription endpoint answers. */
  transcript?: string | ((audioBytes: number) => string);
  models?: string[];
  embeddingDimensions?: number;
}

export interface OpenAiFake extends FakeServer {
  options: OpenAiFakeOptions;
  /** Every client event received on Realtime sockets, parsed, in order. */
  realtimeEvents: Record<string, unknown>[];
}

function sendError(
  res: ServerResponse,
  status: number,
  code: string | null,
  message: string,
  headers: Record<string, string> = {},
  type = 'invalid_request_error',
  param: string | null = null,
) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { message, type, param, code } }));
}

/** Models that reject temperature / max_tokens and take reasoning_effort (the API's own split). */
function reasoningModel(model: string): boolean {
  return /^(o\d+(-|$)|gpt-5(?!.*-chat))/.test(model);
}

/** The 400 the chat endpoint answers for a parameter the model does not take, or undefined. */
function chatParamError(body: Record<string, unknown>): { param: string; message: string } | undefined {
  const model = String(body.model ?? '');
  if (reasoningModel(model)) {
    if (body.temperature !== undefined && body.temperature !== 1)
      return {
        param: 'temperature',
        message: `Unsupported value: 'temperature' does not support ${body.temperature} with this model. Only the default (1) value is supported.`,
      };
    if (body.max_tokens !== undefined)
      return {
        param: 'max_tokens',
        message:
          "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
      };
  } else if (body.reasoning_effort !== undefined) {
    return {
      param: 'reasoning_effort',
      message: "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
    };
  }
  return undefined;
}

/** Deterministic embedding: hashed bag of words, L2-normalised. */
export function fakeEmbedding(text: string, dims: number): Float32Array {
  const v = new Float32Array(dims);
  for (const w of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let h = 2166136261;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619);
    v[(h >>> 0) % dims]! += 1;
  }
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < dims; i++) v[i]! /= norm;
  return v;
}

export async function startOpenAiFake(options: OpenAiFakeOptions = {}): Promise<OpenAiFake> {
  const requests: FakeServer['requests'] = [];
  const faults: Fault[] = [];
  const apiKey = options.apiKey ?? 'sk-test';

  async function preamble(req: IncomingMessage, res: ServerResponse): Promise<Fault | undefined | 'handled'> {
    const unauthorized = () =>
      sendError(
        res,
        401,
        'invalid_api_key',
        'Incorrect API key provided: sk-***. You can find your API key at https://platform.openai.com/account/api-keys.',
      );
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      unauthorized();
      return 'handled';
    }
    const fault = faults.shift();
    if (fault === 'unauthorized') {
      unauthorized();
      return 'handled';
    }
    if (fault === 'rate_limited') {
      const type = options.rateLimitType ?? 'requests';
      const limit =
        type === 'requests'
          ? 'requests per min (RPM): Limit 500, Used 500'
          : 'tokens per min (TPM): Limit 30000, Used 29950';
      sendError(
        res,
        429,
        'rate_limit_exceeded',
        `Rate limit reached for gpt-4o-mini in organization org-fake on ${limit}, Requested 1. Please try again in 120ms.`,
        {
          'retry-after': String(options.retryAfterS ?? 1),
          [`x-ratelimit-remaining-${type}`]: '0',
        },
        type,
      );
      return 'handled';
    }
    if (fault === 'quota') {
      // no Retry-After: waiting does not help
      sendError(
        res,
        429,
        'insufficient_quota',
        'You exceeded your current quota, please check your plan and billing details.',
        {},
        'insufficient_quota',
      );
      return 'handled';
    }
    if (fault === 'server_error') {
      sendError(
        res,
        500,
        null,
        'The server had an error while processing your request. Sorry about that!',
        {},
        'server_error',
      );
      return 'handled';
    }
    await sleep(fault === 'slow_first_byte' ? (options.slowFirstByteMs ?? 2000) : (options.firstByteMs ?? 0));
    return fault;
  }

  async function chat(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>, fault?: Fault) {
    const bad = chatParamError(body);
    if (bad) return sendError(res, 400, 'unsupported_parameter', bad.message, {}, 'invalid_request_error', bad.param);
    const script = typeof options.chat === 'function' ? options.chat(body) : (options.chat ?? { text: 'Hello there.' });
    const model = String(body.model ?? 'gpt-4o-mini');
    const base = {
      id: 'chatcmpl-fake',
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model,
    };
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          ...base,
          object: 'chat.completion',
          choices: [{ index: 0, message: { role: 'assistant', content: script.text ?? null }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        }),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const frames: unknown[] = [
      { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
    ];
    for (const piece of (script.text ?? '').match(/\S+\s*/g) ?? []) {
      frames.push({ ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
    }
    (script.toolCalls ?? []).forEach((tc, index) => {
      frames.push({
        ...base,
        choices: [
          {
            index: 0,
            delta: {
              tool_calls: [
                { index, id: `call_${index}`, type: 'function', function: { name: tc.name, arguments: '' } },
              ],
            },
            finish_reason: null,
          },
        ],
      });
      const half = Math.ceil(tc.arguments.length / 2);
      for (const part of [tc.arguments.slice(0, half), tc.arguments.slice(half)]) {
        if (part)
          frames.push({
            ...base,
            choices: [
              { index: 0, delta: { tool_calls: [{ index, function: { arguments: part } }] }, finish_reason: null },
            ],
          });
      }
    });
    frames.push({
      ...base,
      choices: [{ index: 0, delta: {}, finish_reason: script.toolCalls?.length ? 'tool_calls' : 'stop' }],
    });
    const opts = body.stream_options as { include_usage?: boolean } | undefined;
    if (opts?.include_usage) {
      frames.push({
        ...base,
        choices: [],
        usage: { prompt_tokens: 12, completion_tokens: frames.length, total_tokens: 12 + frames.length },
      });
    }
    for (let i = 0; i < frames.length; i++) {
      if (res.destroyed) return;
      if (i > 0) await sleep(options.chunkMs ?? 0);
      if (fault === 'malformed' && i === 1) {
        res.write('data: {"choices":[{"index":0,"delta":{"content":"bro\n\n');
        continue;
      }
      if (fault === 'drop' && i === 1) {
        // destroyed once the frame has left, so the client has its first byte: a drop mid-stream
        res.write(`data: ${JSON.stringify(frames[i])}\n\n`, () => setTimeout(() => req.socket.destroy(), 20));
        return;
      }
      res.write(`data: ${JSON.stringify(frames[i])}\n\n`);
    }
    res.end('data: [DONE]\n\n');
  }

  async function speech(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>, fault?: Fault) {
    const format = String(body.response_format ?? 'mp3');
    if (format !== 'pcm' && format !== 'wav') {
      sendError(res, 400, 'invalid_value', `This fake only produces pcm or wav, not ${format}`);
      return;
    }
    const audio = synthAudio(String(body.input ?? ''), 'pcm16', 24000);
    res.writeHead(200, {
      'content-type': format === 'pcm' ? 'audio/pcm' : 'audio/wav',
      'transfer-encoding': 'chunked',
    });
    // 100 ms of 24 kHz PCM16 per chunk
    const parts = chunks(audio, 4800);
    for (let i = 0; i < parts.length; i++) {
      if (res.destroyed) return;
      if (i > 0) await sleep(options.chunkMs ?? 0);
      if (fault === 'drop' && i === 0) {
        res.write(parts[i], () => setTimeout(() => req.socket.destroy(), 20));
        return;
      }
      res.write(parts[i]);
    }
    res.end();
  }

  /** Multipart form fields as text (the fake only needs the small ones: model, stream, language, prompt). */
  function formField(raw: Buffer, name: string): string | undefined {
    const m = new RegExp(`name="${name}"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r]*)\r\n`).exec(raw.toString('latin1'));
    return m?.[1];
  }

  async function transcription(res: ServerResponse, raw: Buffer) {
    if (/diarize/.test(formField(raw, 'model') ?? '') && formField(raw, 'prompt') !== undefined) {
      sendError(
        res,
        400,
        'unsupported_parameter',
        "Unsupported parameter: 'prompt' is not supported with this model.",
        {},
        'invalid_request_error',
        'prompt',
      );
      return;
    }
    const riff = raw.indexOf('RIFF');
    if (riff < 0) {
      sendError(res, 400, 'invalid_value', 'Invalid file format.');
      return;
    }
    const audioBytes = raw.length - riff;
    const text =
      typeof options.transcript === 'function' ? options.transcript(audioBytes) : (options.transcript ?? 'hello world');
    if (formField(raw, 'stream') !== 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ text }));
      return;
    }
    // Streaming transcription (gpt-4o-transcribe family): SSE deltas, then done
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const piece of text.match(/\S+\s*/g) ?? []) {
      if (res.destroyed) return;
      res.write(`data: ${JSON.stringify({ type: 'transcript.text.delta', delta: piece })}\n\n`);
      await sleep(options.chunkMs ?? 0);
    }
    res.write(`data: ${JSON.stringify({ type: 'transcript.text.done', text })}\n\n`);
    res.end();
  }

  function embeddings(res: ServerResponse, body: Record<string, unknown>) {
    const dims = Number(body.dimensions ?? options.embeddingDimensions ?? 64);
    const input = Array.isArray(body.input) ? (body.input as string[]) : [String(body.input ?? '')];
    const b64 = body.encoding_format === 'base64';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        object: 'list',
        model: body.model,
        data: input.map((t, index) => {
          const v = fakeEmbedding(t, dims);
          return {
            object: 'embedding',
            index,
            embedding: b64 ? Buffer.from(v.buffer).toString('base64') : Array.from(v),
          };
        }),
        usage: { prompt_tokens: input.length, total_tokens: input.length },
      }),
    );
  }

  const server = createServer(async (req, res) => {
    try {
      const raw = await readBody(req);
      requests.push(record(req, raw));
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const pre = await preamble(req, res);
      if (pre === 'handled') return;
      const fault = pre;
      const isJson = String(req.headers['content-type'] ?? '').includes('json');
      let body: Record<string, unknown> = {};
      if (isJson && raw.length) body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      if (req.method === 'POST' && path === '/v1/chat/completions') await chat(req, res, body, fault);
      else if (req.method === 'POST' && path === '/v1/audio/speech') await speech(req, res, body, fault);
      else if (req.method === 'POST' && path === '/v1/audio/transcriptions') await transcription(res, raw);
      else if (req.method === 'POST' && path === '/v1/embeddings') embeddings(res, body);
      else if (req.method === 'GET' && path === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        const ids = options.models ?? [
          'gpt-4o-mini',
          'gpt-4o',
          'whisper-1',
          'gpt-4o-mini-tts',
          'text-embedding-3-small',
        ];
        res.end(
          JSON.stringify({
            object: 'list',
            data: ids.map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' })),
          }),
        );
      } else sendError(res, 404, 'not_found', `Unknown path ${path}`);
    } catch (err) {
      if (!res.headersSent) sendError(res, 400, 'invalid_request_error', (err as Error).message);
      else res.destroy();
    }
  });
  const realtimeEvents: Record<string, unknown>[] = [];
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    requests.push(record(req));
    const u = new URL(req.url ?? '/', 'http://x');
    const reject = (status: number, code: string, message: string) => {
      const body = JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code } });
      socket.end(
        `HTTP/1.1 ${status} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    if (u.pathname !== '/v1/realtime') return reject(404, 'not_found', `Unknown path ${u.pathname}`);
    if (req.headers.authorization !== `Bearer ${apiKey}` || faults[0] === 'unauthorized') {
      if (faults[0] === 'unauthorized') faults.shift();
      return reject(401, 'invalid_api_key', 'Incorrect API key provided.');
    }
    wss.handleUpgrade(req, socket, head, (ws) => onRealtimeSocket(ws, req, options, realtimeEvents, faults));
  });
  const url = await listen(server);
  return {
    url,
    requests,
    faults,
    options,
    realtimeEvents,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      await closeServer(server);
    },
  };
}
