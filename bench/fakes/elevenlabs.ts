/**
 * Loopback fake of ElevenLabs: streaming TTS `POST /v1/text-to-speech/{voice_id}/stream?output_format=...`, the
 * stream-input WebSocket `/v1/text-to-speech/{voice_id}/stream-input` (BOS with xi_api_key, text chunks, flush,
 * EOS {"text":""}; answers {"audio": base64, "isFinal", "alignment"} and a final {"isFinal": true}) and
 * `GET /v1/voices`. Auth: `xi-api-key` header (or xi_api_key in the BOS message). Errors use ElevenLabs' shape
 * {"detail":{"status","message"}}; WebSocket auth failures close with 1008 like the real service.
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
  /** Text received per stream-input socket, in order. */
  streamedText: string[];
}

const DEFAULT_VOICES = [
  { voice_id: '21m00Tcm4TlvDq8ikWAM', name: 'Rachel', labels: { accent: 'american', gender: 'female' } },
  { voice_id: 'pNInz6obpgDQGcFmaJgB', name: 'Adam', labels: { accent: 'american', gender: 'male' } },
];

function parseFormat(f: string | null): { encoding: 'pcm16' | 'mulaw'; rate: number } | undefined {
  if (!f || f === 'ulaw_8000') return { encoding: 'mulaw', rate: 8000 };
  const m = /^pcm_(\d+)$/.exec(f);
  return m ? { encoding: 'pcm16', rate: Number(m[1]) } : undefined;
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
  const body = JSON.stringify({
    detail: { status: status === 429 ? 'too_many_concurrent_requests' : 'internal_error', message: 'rejected' },
  });
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
    close: async () => {
      for (const s of sockets) s.terminate();
      wss.close();
      await closeServer(server);
    },
  };

  async function stream(req: IncomingMessage, res: ServerResponse) {
    const raw = await readBody(req);
    fake.requests.push(record(req, raw));
    if (req.headers['xi-api-key'] !== apiKey) return sendErr(res, 401, 'invalid_api_key', 'Invalid API key');
    const fault = fake.faults.shift();
    if (fault === 'unauthorized') return sendErr(res, 401, 'invalid_api_key', 'Invalid API key');
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
      'content-type': fmt.encoding === 'mulaw' ? 'audio/basic' : 'audio/pcm',
      'transfer-encoding': 'chunked',
    });
    const parts = chunks(
      synthAudio(text, fmt.encoding, fmt.rate),
      Math.round((fmt.rate * (fmt.encoding === 'pcm16' ? 2 : 1)) / 10),
    );
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

  function streamInput(ws: WebSocket, req: IncomingMessage, fault: Fault | undefined) {
    sockets.add(ws);
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const fmt = parseFormat(q.get('output_format')) ?? { encoding: 'mulaw' as const, rate: 8000 };
    let authed = req.headers['xi-api-key'] === apiKey;
    let began = false;
    let pending = '';
    let all = '';
    let generations = 0;
    let queue = Promise.resolve();
    const generate = (text: string) => {
      queue = queue.then(async () => {
        if (!text.trim() || ws.readyState !== ws.OPEN) return;
        await sleep(
          generations === 0
            ? fault === 'slow_first_byte'
              ? (options.slowFirstByteMs ?? 2000)
              : (options.firstByteMs ?? 0)
            : (options.chunkMs ?? 0),
        );
        generations++;
        if (ws.readyState !== ws.OPEN) return;
        if (fault === 'malformed' && generations === 1) {
          ws.send('{"audio":"AAAA", "isFinal":');
          return;
        }
        const audio = synthAudio(text, fmt.encoding, fmt.rate);
        const chars = [...text];
        const per = Math.max(200, text.length * 60) / Math.max(1, chars.length);
        ws.send(
          JSON.stringify({
            audio: audio.toString('base64'),
            isFinal: null,
            normalizedAlignment: null,
            alignment: {
              chars,
              charStartTimesMs: chars.map((_, i) => Math.round(i * per)),
              charDurationsMs: chars.map(() => Math.round(per)),
            },
          }),
        );
        if (fault === 'drop' && generations === 1) ws.terminate();
      });
    };
    ws.on('message', (data: Buffer) => {
      let msg: { text?: string; xi_api_key?: string; flush?: boolean; try_trigger_generation?: boolean };
      try {
        msg = JSON.parse(data.toString('utf8')) as typeof msg;
      } catch {
        ws.close(1007, 'Invalid JSON');
        return;
      }
      if (!began) {
        began = true;
        if (msg.xi_api_key === apiKey) authed = true;
        if (fault === 'unauthorized') authed = false;
        if (!authed) {
          ws.send(JSON.stringify({ message: 'Invalid API key', error: 'invalid_api_key', code: 1008 }));
          ws.close(1008, 'Invalid API key');
        }
        return; // BOS text is " "
      }
      const text = msg.text ?? '';
      if (text === '') {
        // EOS: generate the rest, then the final message, then close (the real service closes after isFinal)
        fake.streamedText.push(all);
        generate(pending);
        pending = '';
        queue = queue.then(() => {
          if (ws.readyState === ws.OPEN) {
            ws.send(JSON.stringify({ isFinal: true }));
            ws.close(1000);
          }
        });
        return;
      }
      pending += text;
      all += text;
      // The real service buffers to its chunk_length_schedule; the fake generates at sentence ends and on flush.
      if (msg.flush || /[.!?]\s*$/.test(pending)) {
        generate(pending);
        pending = '';
      }
    });
    ws.on('close', () => sockets.delete(ws));
    ws.on('error', () => sockets.delete(ws));
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'POST' && /^\/v1\/text-to-speech\/[^/]+\/stream$/.test(path)) {
      stream(req, res).catch(() => res.destroy());
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
    if (!/^\/v1\/text-to-speech\/[^/]+\/stream-input$/.test(path)) return rejectUpgrade(socket, 500);
    const fault = fake.faults.shift();
    if (fault === 'rate_limited') return rejectUpgrade(socket, 429, options.retryAfterS);
    if (fault === 'server_error') return rejectUpgrade(socket, 500);
    wss.handleUpgrade(req, socket, head, (ws) => streamInput(ws, req, fault));
  });
  (fake as { url: string }).url = await listen(server);
  return fake;
}
