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
 * Flux `/v2/listen` (Deepgram's AsyncAPI for listen v2): Connected {request_id, sequence_id} on open; TurnInfo
 * {event, turn_index, audio_window_start, audio_window_end, transcript, words [{word, confidence}],
 * end_of_turn_confidence} with the state machine of Flux's docs: StartOfTurn, Update, EagerEndOfTurn and
 * TurnResumed only with eager_eot_threshold, TurnResumed only after an EagerEndOfTurn, an EndOfTurn with the words of
 * the EagerEndOfTurn before it, turn_index + 1 after each EndOfTurn. Turns are cut by duration (every `utteranceMs`
 * of audio, the default) or, with segmentation 'energy', by the loud stretches of the audio (see onFluxSocket).
 * sequence_id counts server messages. An undecodable fault answers an Error {code, description} and closes 1008.
 * Every TurnInfo sent is logged in `fluxEvents`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { type Fault, MULAW_TABLE, sleep, synthAudio } from './common.js';

export interface DeepgramWsFakeOptions {
  transcripts?: string[];
  utteranceMs?: number;
  firstByteMs?: number;
  chunkMs?: number;
  /** Flux, 'duration': the caller goes on after each EagerEndOfTurn (TurnResumed before the EndOfTurn). */
  fluxResume?: boolean;
  /** 'duration' (default): every utteranceMs of audio is one utterance; 'energy': the loud stretches are. */
  segmentation?: 'duration' | 'energy';
  /** Mean absolute sample value above which a frame is speech (segmentation 'energy'). */
  speechThreshold?: number;
  /** Flux, 'energy': quiet after speech before EagerEndOfTurn, ms (default 200). */
  fluxEagerSilenceMs?: number;
  /** Flux, 'energy': quiet after speech before EndOfTurn, ms (default 500; eot_timeout_ms caps it). */
  fluxEotSilenceMs?: number;
}

/** A TurnInfo the Flux fake sent (tests read the order of events). */
export interface FluxEvent {
  event: 'StartOfTurn' | 'Update' | 'EagerEndOfTurn' | 'TurnResumed' | 'EndOfTurn';
  transcript: string;
  turnIndex: number;
}

export interface DeepgramWsCounters {
  /** Every JSON message received on speak sockets, parsed, in order. */
  speakMessages: Record<string, unknown>[];
  /** Every TurnInfo sent on Flux sockets, in order. */
  fluxEvents: FluxEvent[];
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
  log?: FluxEvent[],
): void {
  const q = new URL(req.url ?? '/', 'http://x').searchParams;
  if (!q.get('model')) {
    ws.close(1008, 'model is required');
    return;
  }
  const rate = Number(q.get('sample_rate') ?? 16000);
  const pcm = q.get('encoding') === 'linear16';
  const bytesPerMs = (rate * (pcm ? 2 : 1)) / 1000;
  const eager = q.get('eager_eot_threshold') !== null;
  const transcripts = options.transcripts ?? ['hello world'];
  const requestId = randomUUID();
  let seq = 0;
  let next = 0; // the next transcript of the script
  let turn = 0;
  let received = 0;
  let turnStart = 0;
  /** The turn's words: the runs heard so far, each run one transcript of the script. */
  const runs: string[] = [];
  const send = (m: Record<string, unknown>) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ ...m, request_id: requestId, sequence_id: seq++ }));
  };
  const info = (event: FluxEvent['event'], text: string, endBytes = received) => {
    const words = text.split(/\s+/).filter(Boolean);
    log?.push({ event, transcript: text, turnIndex: turn });
    // TurnInfo as Flux sends it: every field present, words with a confidence (no word times).
    send({
      type: 'TurnInfo',
      event,
      turn_index: turn,
      audio_window_start: turnStart / bytesPerMs / 1000,
      audio_window_end: endBytes / bytesPerMs / 1000,
      transcript: text,
      words: words.map((w) => ({ word: w, confidence: 0.95 })),
      end_of_turn_confidence: event === 'EndOfTurn' ? 0.9 : event === 'EagerEndOfTurn' ? 0.6 : 0.1,
    });
  };
  const half = (text: string) => {
    const words = text.split(/\s+/);
    return words.slice(0, Math.max(1, Math.ceil(words.length / 2))).join(' ');
  };
  const endTurn = (text: string, endBytes: number) => {
    info('EndOfTurn', text, endBytes);
    turn++; // turn_index moves on right after an EndOfTurn
    runs.length = 0;
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
    if (options.segmentation === 'energy') onEnergy(data);
    else onDuration();
  });

  // 'duration': every utteranceMs of audio is one turn. StartOfTurn at its first byte, Update at half; with
  // eager_eot_threshold, EagerEndOfTurn at three quarters (on all but the last word when fluxResume is set: the
  // caller goes on, TurnResumed and an Update with all the words, then EagerEndOfTurn on them at the end), and
  // EndOfTurn at the end with the words of the EagerEndOfTurn before it.
  const turnBytes = (options.utteranceMs ?? 1000) * bytesPerMs;
  let stage = 0; // 0 idle, 1 started, 2 updated, 3 eager sent
  function onDuration(): void {
    const text = transcripts[turn % transcripts.length]!;
    const words = text.split(/\s+/);
    const at = received - turnStart;
    if (stage === 0) {
      stage = 1;
      info('StartOfTurn', '');
    }
    if (stage === 1 && at >= turnBytes / 2) {
      stage = 2;
      info('Update', half(text));
    }
    if (stage === 2 && at >= (turnBytes * 3) / 4) {
      stage = 3;
      if (eager && options.fluxResume && words.length > 1) {
        info('EagerEndOfTurn', words.slice(0, -1).join(' '));
        info('TurnResumed', words.slice(0, -1).join(' '));
        info('Update', text);
      } else if (eager) info('EagerEndOfTurn', text);
    }
    if (at >= turnBytes) {
      if (eager && options.fluxResume && words.length > 1) info('EagerEndOfTurn', text, turnStart + turnBytes);
      endTurn(text, turnStart + turnBytes);
      turnStart += turnBytes;
      stage = 0;
    }
  }

  // 'energy': turns follow the loud stretches of the audio, as the model hears speech. StartOfTurn at the first
  // loud frame; Update every 250 ms of the turn's audio (half the run's words while the caller speaks, all of them
  // once quiet); EagerEndOfTurn (eager_eot_threshold) after fluxEagerSilenceMs of quiet; speech again before the
  // EndOfTurn: TurnResumed, and the new run's words join the turn; EndOfTurn after fluxEotSilenceMs of quiet (or
  // eot_timeout_ms when shorter), with the words of the EagerEndOfTurn before it.
  const threshold = options.speechThreshold ?? 300;
  const eagerQuietBytes = (options.fluxEagerSilenceMs ?? 200) * bytesPerMs;
  const eotTimeout = Number(q.get('eot_timeout_ms') ?? Number.POSITIVE_INFINITY);
  const eotQuietBytes = Math.min(options.fluxEotSilenceMs ?? 500, eotTimeout) * bytesPerMs;
  let inTurn = false;
  let loud = false;
  let lastLoud = 0;
  let lastUpdate = 0;
  let eagerSent = false;
  const level = (data: Buffer): number => {
    let sum = 0;
    if (pcm) {
      const n = data.length >> 1;
      for (let i = 0; i < n; i++) sum += Math.abs(data.readInt16LE(i * 2));
      return n ? sum / n : 0;
    }
    for (let i = 0; i < data.length; i++) sum += Math.abs(MULAW_TABLE[data[i]!]!);
    return data.length ? sum / data.length : 0;
  };
  const words = (): string => (loud ? [...runs.slice(0, -1), half(runs.at(-1)!)] : runs).join(' ');
  function onEnergy(data: Buffer): void {
    if (level(data) > threshold) {
      if (!inTurn) {
        inTurn = true;
        turnStart = received - data.length;
        lastUpdate = received;
        info('StartOfTurn', '');
      }
      if (!loud) {
        loud = true;
        runs.push(transcripts[next++ % transcripts.length]!);
        if (eagerSent) {
          eagerSent = false;
          info('TurnResumed', runs.slice(0, -1).join(' '));
        }
      }
      lastLoud = received;
    } else if (inTurn) {
      loud = false;
      const quiet = received - lastLoud;
      if (eager && !eagerSent && quiet >= eagerQuietBytes) {
        eagerSent = true;
        info('EagerEndOfTurn', words());
        lastUpdate = received;
      }
      if (quiet >= eotQuietBytes) {
        if (eager && !eagerSent) info('EagerEndOfTurn', words());
        endTurn(runs.join(' '), lastLoud);
        inTurn = false;
        eagerSent = false;
        return;
      }
    }
    if (inTurn && !eagerSent && received - lastUpdate >= 250 * bytesPerMs) {
      lastUpdate = received;
      info('Update', words());
    }
  }
}
