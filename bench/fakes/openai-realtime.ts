/**
 * The OpenAI fake's Realtime transcription socket (`/v1/realtime?intent=transcription`, routed from
 * bench/fakes/openai.ts). GA events: the client's session.update must be {type:"transcription"} with an
 * audio.input.format the service takes (audio/pcmu, audio/pcma, audio/pcm at 24 kHz); anything else is answered
 * with an `error` event (invalid_request_error), as the service does. Audio arrives as input_audio_buffer.append
 * (base64); with turn_detection server_vad the fake segments mu-law by energy: speech_started {audio_start_ms} at
 * the first loud 20 ms, speech_stopped + committed after `silence_duration_ms` (default 500) of quiet, then a
 * transcription delta per word and completed {transcript}. An empty commit is an error
 * (input_audio_buffer_commit_empty), like the service's. Fault 'quota' (from the fake's shared fault queue): an
 * account out of credit answers the session.update with an `error` event of type and code `insufficient_quota`
 * (the body of the HTTP API's 429) and transcribes nothing; the socket stays up for the client to close.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { type Fault, MULAW_TABLE } from './common.js';

export interface RealtimeFakeOptions {
  /** Transcript of the n-th turn (n from 0). */
  realtimeTranscript?: (turn: number) => string;
  /** Mean absolute sample value above which 20 ms is speech. */
  speechThreshold?: number;
}

export function onRealtimeSocket(
  ws: WebSocket,
  _req: IncomingMessage,
  options: RealtimeFakeOptions,
  log: Record<string, unknown>[],
  faults: Fault[] = [],
): void {
  let configured = false;
  let silenceMs = 500;
  let serverVad = false;
  let receivedMs = 0;
  let inSpeech = false;
  let speechStart = 0;
  let lastLoud = 0;
  let buffered = 0; // bytes since the last commit
  let turn = 0;
  let itemId = '';
  const send = (m: Record<string, unknown>) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ event_id: `event_${randomUUID()}`, ...m }));
  };
  const error = (code: string, message: string, param: string | null = null) =>
    send({ type: 'error', error: { type: 'invalid_request_error', code, message, param } });
  const transcribe = (id: string) => {
    const text = options.realtimeTranscript?.(turn++) ?? 'hello world';
    for (const w of text.match(/\S+\s*/g) ?? [])
      send({ type: 'conversation.item.input_audio_transcription.delta', item_id: id, content_index: 0, delta: w });
    send({
      type: 'conversation.item.input_audio_transcription.completed',
      item_id: id,
      content_index: 0,
      transcript: text,
    });
  };
  send({ type: 'session.created', session: { type: 'transcription', id: `sess_${randomUUID()}` } });
  ws.on('message', (data: Buffer) => {
    let msg: { type?: string; audio?: string; session?: Record<string, unknown> };
    try {
      msg = JSON.parse(data.toString('utf8')) as typeof msg;
    } catch {
      return error('invalid_json', 'The server could not parse the event.');
    }
    log.push(msg as Record<string, unknown>);
    if (msg.type === 'session.update') {
      const s = msg.session as {
        type?: string;
        audio?: {
          input?: {
            format?: { type?: string; rate?: number };
            turn_detection?: { type?: string; silence_duration_ms?: number };
          };
        };
      };
      if (faults[0] === 'quota') {
        faults.shift();
        return send({
          type: 'error',
          error: {
            type: 'insufficient_quota',
            code: 'insufficient_quota',
            message: 'You exceeded your current quota, please check your plan and billing details.',
            param: null,
          },
        });
      }
      if (s?.type !== 'transcription')
        return error('invalid_value', "session.type must be 'transcription'.", 'session.type');
      const f = s.audio?.input?.format;
      if (
        f &&
        !(f.type === 'audio/pcmu' || f.type === 'audio/pcma' || (f.type === 'audio/pcm' && (f.rate ?? 24000) === 24000))
      )
        return error('invalid_value', `Invalid audio format ${f.type}.`, 'session.audio.input.format');
      const td = s.audio?.input?.turn_detection;
      serverVad = td?.type === 'server_vad';
      silenceMs = td?.silence_duration_ms ?? 500;
      configured = true;
      send({ type: 'session.updated', session: s });
      return;
    }
    if (msg.type === 'input_audio_buffer.commit') {
      if (buffered < 800) return error('input_audio_buffer_commit_empty', 'buffer too small: at least 100ms of audio');
      buffered = 0;
      const id = `item_${randomUUID()}`;
      send({ type: 'input_audio_buffer.committed', item_id: id });
      transcribe(id);
      return;
    }
    if (msg.type !== 'input_audio_buffer.append' || !configured) return;
    const audio = Buffer.from(msg.audio ?? '', 'base64');
    buffered += audio.length;
    for (let off = 0; off + 160 <= audio.length; off += 160) {
      let sum = 0;
      for (let i = off; i < off + 160; i++) sum += Math.abs(MULAW_TABLE[audio[i]!]!);
      receivedMs += 20;
      if (!serverVad) continue;
      if (sum / 160 > (options.speechThreshold ?? 300)) {
        lastLoud = receivedMs;
        if (!inSpeech) {
          inSpeech = true;
          speechStart = receivedMs - 20;
          itemId = `item_${randomUUID()}`;
          send({ type: 'input_audio_buffer.speech_started', audio_start_ms: speechStart, item_id: itemId });
        }
      } else if (inSpeech && receivedMs - lastLoud >= silenceMs) {
        inSpeech = false;
        buffered = 0;
        send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: lastLoud, item_id: itemId });
        send({ type: 'input_audio_buffer.committed', item_id: itemId, previous_item_id: null });
        transcribe(itemId);
      }
    }
  });
}
