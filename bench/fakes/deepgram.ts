/**
 * Loopback fake of Deepgram: the live `/v1/listen` WebSocket and Aura `/v1/speak` (HTTP; the speak WebSocket and
 * Flux `/v2/listen` are in bench/fakes/deepgram-ws.ts, served by the same server). Auth: `Authorization: Token KEY`
 * (or the `token, KEY` WebSocket subprotocol the browser SDK uses). Errors: HTTP status at the upgrade with
 * Deepgram's body {"err_code","err_msg","request_id"}.
 *
 * Listen script: every `utteranceMs` of received audio the fake "hears" the next transcript of `transcripts` (with
 * `hear`, the words said in the utterance's stretch of a known caller script instead: bench/fakes/script-hearing.ts):
 * SpeechStarted (vad_events=true) at the first byte of an utterance, an interim Results (interim_results=true) at
 * half, a final Results (is_final + speech_final) at the end. UtteranceEnd (utterance_end_ms set) only as Deepgram
 * sends it: once `utterance_end_ms` of audio has passed after the last word with no new word (in 'duration'
 * segmentation every utterance runs into the next, so it comes only after a Finalize cut or in 'energy' mode).
 * Finalize answers a final Results with from_finalize=true for the partial utterance; CloseStream answers Metadata
 * and a 1000 close. KeepAlive messages are counted in `keepAlives`. Query parameters are parsed as Deepgram does:
 * `keyterm` repeated per term. Faults: undecodable -> close 1008 DATA-0000; server_error_message -> an Error
 * message then close 1011; quota -> 402 at the upgrade.
 *
 * Speak (`POST /v1/speak`): Deepgram's defaults when a parameter is absent: encoding linear16, sample_rate 24000,
 * container wav (a 44-byte RIFF header before the audio; `container=none` for raw); `speed` must be 0.7-1.5.
 */
import { randomUUID } from 'node:crypto';
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
  MULAW_TABLE,
  readBody,
  record,
  sleep,
  synthAudio,
  wavHeader,
} from './common.js';
import { type DeepgramWsCounters, type DeepgramWsFakeOptions, onFluxSocket, onSpeakSocket } from './deepgram-ws.js';
import type { Hearing } from './script-hearing.js';

export interface DeepgramFakeOptions extends FakeLatency, DeepgramWsFakeOptions {
  apiKey?: string;
  transcripts?: string[];
  /** Audio that makes one utterance, ms (segmentation 'duration'). */
  utteranceMs?: number;
  /**
   * 'duration' (default): every utteranceMs of audio is one utterance, whatever it contains.
   * 'energy': utterances are the loud stretches of the audio, like a real recognizer: SpeechStarted at the first
   * loud frame, an interim after 500 ms of speech, the final (speech_final) `endpointing` ms (query parameter,
   * Deepgram's default 10) after the last loud frame plus firstByteMs, UtteranceEnd after utterance_end_ms.
   */
  segmentation?: 'duration' | 'energy';
  /** Mean absolute sample value above which a frame is speech (segmentation 'energy'). */
  speechThreshold?: number;
  /**
   * Listen: hear the words said in each utterance of a known caller script (bench/fakes/script-hearing.ts), one
   * Hearing per socket, instead of `transcripts` in turn.
   */
  hear?: () => Hearing;
}

export interface DeepgramFake extends FakeServer, DeepgramWsCounters {
  keepAlives: number;
  finalizes: number;
  /** Audio bytes received over all listen sockets. */
  audioBytes: number;
  /** Live listen sockets (tests drop them). */
  sockets: Set<WebSocket>;
}

const STATUS_BODY: Record<number, [string, string]> = {
  400: ['Bad Request', 'Invalid query parameter.'],
  401: ['INVALID_AUTH', 'Invalid credentials.'],
  402: ['ASR_PAYMENT_REQUIRED', 'Project does not have enough credits for this request.'],
  429: ['TOO_MANY_REQUESTS', 'Too many requests. Please try again later.'],
  500: ['INTERNAL_SERVER_ERROR', 'Internal server error.'],
};

function rejectUpgrade(socket: Duplex, status: number, retryAfterS?: number) {
  const [code, msg] = STATUS_BODY[status] ?? ['ERROR', 'Error'];
  const body = JSON.stringify({ err_code: code, err_msg: msg, request_id: randomUUID() });
  const extra = status === 429 ? `Retry-After: ${retryAfterS ?? 1}\r\n` : '';
  const reason: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    402: 'Payment Required',
    429: 'Too Many Requests',
  };
  socket.end(
    `HTTP/1.1 ${status} ${reason[status] ?? 'Internal Server Error'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
}

function authorized(req: IncomingMessage, apiKey: string): boolean {
  if (req.headers.authorization === `Token ${apiKey}`) return true;
  const proto = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((s) => s.trim());
  return proto[0] === 'token' && proto[1] === apiKey;
}

export async function startDeepgramFake(options: DeepgramFakeOptions = {}): Promise<DeepgramFake> {
  const apiKey = options.apiKey ?? 'dg-test';
  const transcripts = options.transcripts ?? ['hello world'];
  const utteranceMs = options.utteranceMs ?? 1000;
  const wss = new WebSocketServer({ noServer: true });
  let transcriptIndex = 0;

  const fake: DeepgramFake = {
    url: '',
    requests: [],
    faults: [],
    keepAlives: 0,
    finalizes: 0,
    speakMessages: [],
    fluxEvents: [],
    audioBytes: 0,
    sockets: new Set(),
    close: async () => {
      for (const s of fake.sockets) s.terminate();
      wss.close();
      await closeServer(server);
    },
  };

  function results(
    text: string,
    startS: number,
    durS: number,
    isFinal: boolean,
    speechFinal: boolean,
    fromFinalize = false,
  ) {
    const words = text.split(/\s+/).filter(Boolean);
    const per = words.length ? durS / words.length : 0;
    return {
      type: 'Results',
      channel_index: [0, 1],
      duration: durS,
      start: startS,
      is_final: isFinal,
      speech_final: speechFinal,
      from_finalize: fromFinalize,
      channel: {
        alternatives: [
          {
            transcript: text,
            confidence: 0.98,
            words: words.map((w, i) => ({
              word: w.toLowerCase(),
              start: startS + i * per,
              end: startS + (i + 1) * per,
              confidence: 0.98,
              punctuated_word: w,
            })),
          },
        ],
      },
      metadata: {
        request_id: randomUUID(),
        model_info: { name: 'nova-3', version: 'fake', arch: 'fake' },
        model_uuid: randomUUID(),
      },
    };
  }

  function onListen(ws: WebSocket, req: IncomingMessage, fault: Fault | undefined) {
    fake.sockets.add(ws);
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const rate = Number(q.get('sample_rate') ?? 16000);
    const bytesPerSample = q.get('encoding') === 'linear16' ? 2 : 1;
    const bytesPerMs = (rate * bytesPerSample) / 1000;
    const interim = q.get('interim_results') === 'true';
    const vad = q.get('vad_events') === 'true';
    const utteranceEnd = q.get('utterance_end_ms') !== null;
    let received = 0; // bytes in this connection
    let uttStart = 0; // bytes at the start of the current utterance
    let sentInterim = false;
    let sentStart = false;
    let resultsSent = 0;
    /** Bytes at the end of the last final's words; a word heard since cancels the pending UtteranceEnd. */
    let lastWordEnd = -1;
    let wordsSince = false;
    const send = (obj: unknown) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(obj));
    };
    const afterResult = () => {
      resultsSent++;
      if (fault === 'drop' && resultsSent === 1) setImmediate(() => ws.terminate());
      if (fault === 'malformed' && resultsSent === 1) ws.send('{"type":"Results","channel":');
    };
    /** Sends the final for [uttStart, endBytes) after the scripted latency; state moves on at once. */
    const hearing = options.hear?.();
    const finalUtterance = (fromFinalize: boolean, endBytes = received, delayMs = 0, nextStart = received) => {
      const text = hearing ? hearing.words(endBytes, true) : transcripts[transcriptIndex++ % transcripts.length]!;
      const startS = uttStart / bytesPerMs / 1000;
      const durS = (endBytes - uttStart) / bytesPerMs / 1000;
      uttStart = nextStart;
      sentInterim = false;
      sentStart = false;
      const emit = () => {
        send(results(text, startS, durS, true, !fromFinalize, fromFinalize));
        lastWordEnd = endBytes;
        wordsSince = false;
        afterResult();
      };
      if (delayMs > 0) setTimeout(emit, delayMs);
      else emit();
    };
    const sendInterim = (startBytes: number, endBytes: number) => {
      sentInterim = true;
      wordsSince = true;
      const text = transcripts[transcriptIndex % transcripts.length]!;
      const words = text.split(/\s+/);
      const half = hearing
        ? hearing.words(endBytes, false)
        : words.slice(0, Math.max(1, Math.ceil(words.length / 2))).join(' ');
      send(results(half, startBytes / bytesPerMs / 1000, (endBytes - startBytes) / bytesPerMs / 1000, false, false));
    };
    // segmentation 'energy' state (bytes in this connection)
    const energy = options.segmentation === 'energy';
    const endpointingMs =
      q.get('endpointing') === 'false' ? Number.POSITIVE_INFINITY : Number(q.get('endpointing') ?? 10);
    const utteranceEndMs = Number(q.get('utterance_end_ms') ?? 1000);
    const threshold = options.speechThreshold ?? 300;
    let inSpeech = false;
    let lastLoud = 0;
    let awaitingUtteranceEnd = false;
    const level = (data: Buffer): number => {
      let sum = 0;
      if (bytesPerSample === 2) {
        const n = data.length >> 1;
        for (let i = 0; i < n; i++) sum += Math.abs(data.readInt16LE(i * 2));
        return n ? sum / n : 0;
      }
      for (let i = 0; i < data.length; i++) sum += Math.abs(MULAW_TABLE[data[i]!]!);
      return data.length ? sum / data.length : 0;
    };
    const onEnergy = (data: Buffer) => {
      const loud = level(data) > threshold;
      if (loud) {
        if (!inSpeech) {
          inSpeech = true;
          uttStart = received - data.length;
          sentInterim = false;
          if (vad) send({ type: 'SpeechStarted', channel: [0], timestamp: uttStart / bytesPerMs / 1000 });
        }
        lastLoud = received;
        awaitingUtteranceEnd = false;
        if (interim && !sentInterim && (received - uttStart) / bytesPerMs >= 500) sendInterim(uttStart, received);
        return;
      }
      const silentMs = (received - lastLoud) / bytesPerMs;
      if (inSpeech && silentMs >= endpointingMs) {
        inSpeech = false;
        awaitingUtteranceEnd = utteranceEnd;
        finalUtterance(false, lastLoud, options.firstByteMs ?? 0);
      } else if (awaitingUtteranceEnd && silentMs >= utteranceEndMs) {
        awaitingUtteranceEnd = false;
        send({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: lastLoud / bytesPerMs / 1000 });
      }
    };
    let finalizing = false;
    ws.on('message', async (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        let msg: { type?: string };
        try {
          msg = JSON.parse(data.toString('utf8')) as { type?: string };
        } catch {
          ws.close(1008, 'DATA-0000: invalid JSON');
          return;
        }
        const pending = energy ? inSpeech : received > uttStart;
        if (msg.type === 'KeepAlive') fake.keepAlives++;
        else if (msg.type === 'Finalize') {
          fake.finalizes++;
          if (pending) {
            inSpeech = false;
            finalUtterance(true);
          }
        } else if (msg.type === 'CloseStream') {
          if (pending) finalUtterance(true);
          send({
            type: 'Metadata',
            transaction_key: 'deprecated',
            request_id: randomUUID(),
            sha256: '',
            created: new Date().toISOString(),
            duration: received / bytesPerMs / 1000,
            channels: 1,
          });
          ws.close(1000);
        }
        return;
      }
      received += data.length;
      fake.audioBytes += data.length;
      hearing?.audio(data);
      if (fault === 'undecodable') {
        ws.close(1008, 'DATA-0000');
        return;
      }
      if (fault === 'server_error_message' && received >= bytesPerMs * 100) {
        send({ type: 'Error', description: 'Internal server error.', message: 'NET-0001', variant: 'error' });
        ws.close(1011, 'NET-0001');
        return;
      }
      if (
        !energy &&
        utteranceEnd &&
        lastWordEnd >= 0 &&
        !wordsSince &&
        received - lastWordEnd >= utteranceEndMs * bytesPerMs
      ) {
        send({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: lastWordEnd / bytesPerMs / 1000 });
        lastWordEnd = -1;
      }
      if (energy) {
        onEnergy(data);
        return;
      }
      const inUtt = (received - uttStart) / bytesPerMs;
      if (vad && !sentStart) {
        sentStart = true;
        send({ type: 'SpeechStarted', channel: [0], timestamp: uttStart / bytesPerMs / 1000 });
      }
      if (interim && !sentInterim && inUtt >= utteranceMs / 2) sendInterim(uttStart, received);
      if (inUtt >= utteranceMs && !finalizing) {
        finalizing = true;
        await sleep(options.firstByteMs ?? 0);
        finalizing = false;
        // One message can hold several utterances (a client flushing audio it buffered while connecting): like
        // Deepgram, transcribe all of it, one result per utterance.
        const uttBytes = utteranceMs * bytesPerMs;
        while (received - uttStart >= uttBytes) finalUtterance(false, uttStart + uttBytes, 0, uttStart + uttBytes);
      }
    });
    ws.on('close', () => fake.sockets.delete(ws));
    ws.on('error', () => fake.sockets.delete(ws));
  }

  async function speak(req: IncomingMessage, res: ServerResponse) {
    const raw = await readBody(req);
    fake.requests.push(record(req, raw));
    const sendErr = (status: number, headers: Record<string, string> = {}) => {
      const [code, msg] = STATUS_BODY[status] ?? ['ERROR', 'Error'];
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify({ err_code: code, err_msg: msg, request_id: randomUUID() }));
    };
    if (req.headers.authorization !== `Token ${apiKey}`) return sendErr(401);
    const fault = fake.faults.shift();
    if (fault === 'unauthorized') return sendErr(401);
    if (fault === 'rate_limited') return sendErr(429, { 'retry-after': String(options.retryAfterS ?? 1) });
    if (fault === 'server_error') return sendErr(500);
    if (fault === 'quota') return sendErr(402);
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const speed = q.get('speed');
    if (speed !== null && !(Number(speed) >= 0.7 && Number(speed) <= 1.5)) return sendErr(400);
    let text = '';
    try {
      text = String((JSON.parse(raw.toString('utf8')) as { text?: string }).text ?? '');
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ err_code: 'INVALID_JSON', err_msg: 'Invalid JSON body.', request_id: randomUUID() }));
      return;
    }
    const enc = q.get('encoding') ?? 'linear16';
    if (enc !== 'linear16' && enc !== 'mulaw') return sendErr(400);
    const encoding = enc === 'linear16' ? 'pcm16' : 'mulaw';
    const rate = Number(q.get('sample_rate') ?? (encoding === 'mulaw' ? 8000 : 24000));
    const container = q.get('container') ?? 'wav';
    if (container !== 'wav' && container !== 'none') return sendErr(400);
    await sleep(fault === 'slow_first_byte' ? (options.slowFirstByteMs ?? 2000) : (options.firstByteMs ?? 0));
    const pcm = synthAudio(text, encoding, rate);
    const audio = container === 'wav' ? Buffer.concat([wavHeader(encoding, rate, pcm.length), pcm]) : pcm;
    res.writeHead(200, {
      'content-type': container === 'wav' ? 'audio/wav' : encoding === 'mulaw' ? 'audio/basic' : 'audio/l16',
      'dg-model-name': q.get('model') ?? 'aura-2-thalia-en',
    });
    const parts = chunks(audio, Math.round((rate * (encoding === 'pcm16' ? 2 : 1)) / 10));
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

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'POST' && path === '/v1/speak') {
      speak(req, res).catch(() => res.destroy());
      return;
    }
    fake.requests.push(record(req));
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ err_code: 'NOT_FOUND', err_msg: 'Not found', request_id: randomUUID() }));
  });
  server.on('upgrade', async (req, socket, head) => {
    socket.on('error', () => {});
    fake.requests.push(record(req));
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== '/v1/listen' && path !== '/v2/listen' && path !== '/v1/speak') return rejectUpgrade(socket, 500);
    if (!authorized(req, apiKey)) return rejectUpgrade(socket, 401);
    const fault = fake.faults.shift();
    if (fault === 'unauthorized') return rejectUpgrade(socket, 401);
    if (fault === 'rate_limited') return rejectUpgrade(socket, 429, options.retryAfterS);
    if (fault === 'server_error') return rejectUpgrade(socket, 500);
    if (fault === 'quota') return rejectUpgrade(socket, 402);
    if (fault === 'slow_first_byte') await sleep(options.slowFirstByteMs ?? 2000);
    if (socket.destroyed) return;
    wss.handleUpgrade(req, socket, head, (ws) => {
      fake.sockets.add(ws);
      ws.on('close', () => fake.sockets.delete(ws));
      if (path === '/v1/speak') onSpeakSocket(ws, req, options, fake);
      else if (path === '/v2/listen') onFluxSocket(ws, req, fault, options, fake.fluxEvents);
      else onListen(ws, req, fault);
    });
  });
  (fake as { url: string }).url = await listen(server);
  return fake;
}
