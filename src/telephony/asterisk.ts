import { ALAW_8K, type AudioFormat, MULAW_8K, pcmFormat } from '../audio/format.js';
import {
  type AdapterFactory,
  counter,
  generatedCallId,
  type InboundSink,
  obj,
  type ProtocolAdapter,
  parseObject,
  str,
  stringParams,
  validDigit,
} from './adapter.js';

/**
 * Asterisk chan_websocket, PROTOCOLS.md "asterisk". Text frames are control, binary frames are media in the
 * channel's codec both ways (ulaw, alaw, slin, slin16...; slin in host order = LE). Control comes plain
 * (`MEDIA_START k:v ...`) or JSON (`{"event":"MEDIA_START",...}`); we answer in the form we received.
 * Out: binary messages of `optimal_frame_size` (a remainder under one frame would be discarded by Asterisk, so the
 * last one is padded to a whole frame); `MARK_MEDIA name` -> `MEDIA_MARK_PROCESSED name` (20.18+);
 * `FLUSH_MEDIA` (drops pending marks too, no reply); `HANGUP`. Text over 128 bytes is dropped by Asterisk:
 * keep mark names short. No transfer (ARI), no stop event (the close is the end).
 */
function codecFormat(name: string): AudioFormat | undefined {
  if (name === 'ulaw') return MULAW_8K;
  if (name === 'alaw') return ALAW_8K;
  const m = /^slin(\d+)?$/.exec(name);
  if (m) return pcmFormat(m[1] ? Number(m[1]) * 1000 : 8000);
  return undefined;
}

/** `NAME k:v k:v` -> {event: NAME, k: v}; a bare word argument becomes `id`. */
export function parsePlain(text: string): Record<string, string> {
  const parts = text.trim().split(/\s+/);
  const out: Record<string, string> = { event: parts[0] ?? '' };
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!;
    const c = p.indexOf(':');
    if (c > 0) out[p.slice(0, c)] = p.slice(c + 1);
    else out.id = p;
  }
  return out;
}

export const createAsteriskAdapter: AdapterFactory = ({ query }) => {
  let json = false;
  let started = false;

  const command = (name: string, id?: string): string =>
    json
      ? JSON.stringify(id === undefined ? { command: name } : { command: name, correlation_id: id })
      : id === undefined
        ? name
        : `${name} ${id}`;

  const adapter: ProtocolAdapter = {
    name: 'asterisk',
    dtmfEvents: true,
    marks: true,
    marksOnClear: 'dropped',
    // PROTOCOLS.md: HANGUP on the socket; transfer would be ARI (REST).
    hangupVia: 'message',
    transferVia: 'rest',
    frameMs: 20,
    padTo: -1,
    binaryAudio: true,
    subprotocols: ['media'],

    onText(text: string, sink: InboundSink) {
      let m: Record<string, unknown>;
      if (text.trimStart().startsWith('{')) {
        const o = parseObject(text);
        if (!o) return sink.malformed('invalid JSON');
        m = o;
        if (!started) json = true;
      } else {
        m = parsePlain(text);
      }
      switch (m.event) {
        case 'MEDIA_START': {
          if (started) return sink.malformed('second MEDIA_START');
          const fmt = codecFormat(str(m.format) ?? '');
          if (!fmt) return sink.malformed(`unsupported format ${JSON.stringify(m.format)}`);
          started = true;
          const params = stringParams(m.channel_variables);
          for (const [k, v] of query) params[k] = v;
          const frame = counter(m.optimal_frame_size);
          return sink.start({
            callId: str(m.channel_id) ?? str(m.channel) ?? str(m.connection_id) ?? generatedCallId('asterisk'),
            streamId: str(m.connection_id),
            from: params.from,
            to: params.to,
            customParameters: params,
            paramKey: params.assistantApiKey,
            inboundFormat: fmt,
            outboundFormat: fmt,
            outboundFrameBytes: frame > 0 && frame <= 65_000 ? frame : undefined,
          });
        }
        case 'DTMF_END': {
          const d = m.digit;
          if (!validDigit(d)) return sink.malformed('DTMF_END without a valid digit');
          return sink.dtmf(d);
        }
        case 'MEDIA_MARK_PROCESSED': {
          const id = str(m.correlation_id) ?? str(m.id);
          return id ? sink.mark(id) : undefined;
        }
        case 'MEDIA_XOFF':
          // Asterisk's queue passed 900 frames (about 18 s): hold our audio until XON.
          return sink.flow(true);
        case 'MEDIA_XON':
          return sink.flow(false);
        case 'QUEUE_DRAINED':
        case 'STATUS':
        case 'MEDIA_BUFFERING_COMPLETED':
        case 'ERROR':
          // Reports: nothing to do (our pacing keeps Asterisk's queue near `leadMs`, far below its XOFF level).
          return;
        default:
          return sink.malformed(`unknown event ${JSON.stringify(m.event ?? obj(m).command)}`);
      }
    },

    onBinary(data: Uint8Array, sink: InboundSink) {
      if (!started) return sink.malformed('media before MEDIA_START');
      sink.audio(data);
    },

    accepted: () => undefined,
    encodeAudio: (frame) => Buffer.from(frame),
    encodeMark: (name) => command('MARK_MEDIA', name),
    encodeClear: () => command('FLUSH_MEDIA'),
    encodeHangup: () => command('HANGUP'),
    encodeTransfer: () => undefined,
    encodeDtmf: () => undefined,
    encodeEvent: () => undefined,
  };
  return adapter;
};
