/**
 * The Deepgram fake's newer WebSockets (routed from bench/fakes/deepgram.ts, one server):
 *
 * Aura speak `/v1/speak` (WebSocket): Metadata on open; {"type":"Speak","text"} is buffered; {"type":"Flush"}
 * synthesizes the buffer as binary frames (100 ms each, the first after `firstByteMs` when no Flush was pending)
 * then {"type":"Flushed","sequence_id"}; {"type":"Clear"}
 * drops the buffer and what is not yet sent, then {"type":"Cleared","sequence_id"}; {"type":"Close"} closes 1000.
 * Defaults as the service: encoding linear16, sample_rate 24000 (raw, no container on the socket). More than 20
 * Flushes in 60 s: a Warning and the Flush is ignored. A Speak over 2000 characters: a Warning, text dropped.
 *
 * Flux `/v2/listen`: Connected on open; every `utteranceMs` of audio is one turn: TurnInfo StartOfTurn at its first
 * byte, Update at half, EagerEndOfTurn at three quarters (only with eager_eot_threshold), TurnResumed + Update
 * after it when `fluxResume` is set, EndOfTurn at the end. sequence_id counts server messages. An undecodable
 * fault answers an Error {code, description} and closes 1008.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { type Fault, sleep, synthAudio } from './common.js';

export interface DeepgramWsFakeOptions {
  transcripts?: string[];
  utteranceMs?: number;
  firstByteMs?: number;
  chunkMs?: number;
  /** Flux: the caller goes on after each EagerEndOfTurn (TurnResumed before the EndOfTurn). */
  fluxResume?: boolean;
}

export interface DeepgramWsCounters {
  /** Every JSON message received on speak sockets, parsed, in order. */
  speakMessages: Record<string, unknown>[];
}

const FLUSH_LIMIT = 20;
const SPEAK_MAX_CHARS = 2000;

export function onSpeakSocket(
  ws: WebSocket,
  req: IncomingMessage,
  options: DeepgramWsFakeOptions,
  counters: DeepgramWsCounters,
): void {
  const q = new URL(req.url ?? '/', 'http://x').searchParams;
  const encoding = (q.get('encoding') ?? 'linear16') === 'linear16' ? 'pcm16' : 'mulaw';
  const rate = Number(q.get('sample_rate') ?? (encoding === 'mulaw' ? 8000 : 24000));
  const frameBytes = Math.round((rate * (encoding === 'pcm16' ? 2 : 1)) / 10);
  let buffer = '';
  let sequence = 0;
  /** Flushes queued or being synthesized. */
  let busy = 0;
  let generation = 0; // a Clear bumps it: frames of an older generation are not sent
  let queue = Promise.resolve();
  const flushes: number[] = [];
  const send = (m: unknown) => {
    if (ws.readyState === ws.OPEN) ws.send(typeof m === 'string' || Buffer.isBuffer(m) ? m : JSON.stringify(m));
  };
  send({
    type: 'Metadata',
    request_id: randomUUID(),
    model_name: q.get('model') ?? 'aura-2-thalia-en',
    model_version: 'fake',
    model_uuid: randomUUID(),
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) return;
    let msg: { type?: string; text?: string };
    try {
      msg = JSON.parse(data.toString('utf8')) as typeof msg;
    } catch {
      ws.close(1008, 'DATA-0000: invalid JSON');
      return;
    }
    counters.speakMessages.push(msg as Record<string, unknown>);
    switch (msg.type) {
      case 'Speak': {
        const text = String(msg.text ?? '');
        if (text.length > SPEAK_MAX_CHARS) {
          send({ type: 'Warning', description: `Text exceeds ${SPEAK_MAX_CHARS} characters.`, code: 'TEXT_TOO_LONG' });
          return;
        }
        buffer += text;
        return;
      }
      case 'Flush': {
        const now = Date.now();
        while (flushes.length && now - flushes[0]! > 60_000) flushes.shift();
        if (flushes.length >= FLUSH_LIMIT) {
          send({ type: 'Warning', description: 'Flush limit exceeded.', code: 'FLUSH_LIMIT' });
          return;
        }
        flushes.push(now);
        const text = buffer;
        buffer = '';
        const gen = generation;
        const seq = sequence++;
        // First byte latency when the server was idle (a new utterance), not for a Flush queued behind another.
        const first = busy === 0;
        busy++;
        const speak = async () => {
          await sleep(first ? (options.firstByteMs ?? 0) : 0);
          const audio = text.trim() ? synthAudio(text, encoding, rate) : Buffer.alloc(0);
          for (let i = 0; i < audio.length; i += frameBytes) {
            if (gen !== generation) return;
            if (i > 0) await sleep(options.chunkMs ?? 0);
            if (gen !== generation) return;
            send(audio.subarray(i, Math.min(audio.length, i + frameBytes)));
          }
          if (gen === generation) send({ type: 'Flushed', sequence_id: seq });
        };
        queue = queue.then(() =>
          speak().finally(() => {
            busy--;
          }),
        );
        return;
      }
      case 'Clear': {
        generation++;
        buffer = '';
        const seq = sequence++;
        queue = queue.then(() => send({ type: 'Cleared', sequence_id: seq }));
        return;
      }
      case 'Close':
        queue = queue.then(() => ws.close(1000));
        return;
      default:
        send({ type: 'Warning', description: `Unknown message type ${msg.type}`, code: 'UNKNOWN_MESSAGE' });
    }
  });
}

export function onFluxSocket(
  ws: WebSocket,
  req: IncomingMessage,
  fault: Fault | undefined,
  options: DeepgramWsFakeOptions,
): void {
  const q = new URL(req.url ?? '/', 'http://x').searchParams;
  if (!q.get('model')) {
    ws.close(1008, 'model is required');
    return;
  }
  const rate = Number(q.get('sample_rate') ?? 16000);
  const bytesPerMs = (rate * (q.get('encoding') === 'linear16' ? 2 : 1)) / 1000;
  const eager = q.get('eager_eot_threshold') !== null;
  const transcripts = options.transcripts ?? ['hello world'];
  const turnBytes = (options.utteranceMs ?? 1000) * bytesPerMs;
  const requestId = randomUUID();
  let seq = 0;
  let turn = 0;
  let received = 0;
  let turnStart = 0;
  let stage = 0; // 0 idle, 1 started, 2 updated, 3 eager sent
  const send = (m: Record<string, unknown>) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ ...m, request_id: requestId, sequence_id: seq++ }));
  };
  const info = (event: string, text: string, endBytes: number) => {
    const words = text.split(/\s+/).filter(Boolean);
    const start = turnStart / bytesPerMs / 1000;
    const end = endBytes / bytesPerMs / 1000;
    const per = words.length ? (end - start) / words.length : 0;
    send({
      type: 'TurnInfo',
      event,
      turn_index: turn,
      audio_window_start: start,
      audio_window_end: end,
      transcript: text,
      words: words.map((w, i) => ({ word: w, confidence: 0.95, start: start + i * per, end: start + (i + 1) * per })),
      end_of_turn_confidence: event === 'EndOfTurn' ? 0.9 : event === 'EagerEndOfTurn' ? 0.6 : 0.1,
    });
  };
  send({ type: 'Connected' });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) {
      let msg: { type?: string };
      try {
        msg = JSON.parse(data.toString('utf8')) as typeof msg;
      } catch {
        ws.close(1008, 'invalid JSON');
        return;
      }
      if (msg.type === 'CloseStream') ws.close(1000);
      return;
    }
    if (fault === 'undecodable') {
      send({ type: 'Error', code: 'INVALID_AUDIO', description: 'Audio could not be decoded.' });
      ws.close(1008, 'INVALID_AUDIO');
      return;
    }
    received += data.length;
    const text = transcripts[turn % transcripts.length]!;
    const words = text.split(/\s+/);
    const half = words.slice(0, Math.max(1, Math.ceil(words.length / 2))).join(' ');
    const at = received - turnStart;
    if (stage === 0) {
      stage = 1;
      send({ type: 'TurnInfo', event: 'StartOfTurn', turn_index: turn, transcript: '', words: [] });
    }
    if (stage === 1 && at >= turnBytes / 2) {
      stage = 2;
      info('Update', half, received);
    }
    if (stage === 2 && at >= (turnBytes * 3) / 4) {
      stage = 3;
      if (eager) {
        info('EagerEndOfTurn', text, received);
        if (options.fluxResume) {
          send({ type: 'TurnInfo', event: 'TurnResumed', turn_index: turn, transcript: text, words: [] });
          info('Update', text, received);
        }
      }
    }
    if (at >= turnBytes) {
      info('EndOfTurn', text, turnStart + turnBytes);
      turn++;
      turnStart += turnBytes;
      stage = 0;
    }
  });
}
