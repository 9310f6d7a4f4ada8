import { type AudioFormat, MULAW_8K, pcmFormat } from '../audio/format.js';
import {
  type AdapterFactory,
  binaryNotExpected,
  counter,
  type InboundSink,
  obj,
  type ProtocolAdapter,
  parseObject,
  str,
  validDigit,
} from './adapter.js';
import { Base64Decoder, toBase64 } from './base64.js';

/**
 * Plivo Audio Streams, bidirectional, PROTOCOLS.md "plivo". camelCase; sequenceNumber and chunk are numbers.
 * Default audio is L16 8 kHz (little-endian assumed, unconfirmed), or L16 16 kHz / mu-law 8 kHz per contentType;
 * we answer in the format that came. Checkpoints -> playedStream (or the older `played`); clearAudio ->
 * clearedAudio and pending checkpoints get NO reply. No stop message: the close is the end (a `stop` is accepted).
 */
function contentFormat(encoding: string | undefined, rate: number): AudioFormat | undefined {
  const e = (encoding ?? '').toLowerCase();
  if (e.includes('mulaw') || e.includes('pcmu')) return MULAW_8K;
  if (e.includes('l16') || e === '' || e.includes('linear')) return pcmFormat(rate === 16000 ? 16000 : 8000);
  return undefined;
}

/** extra_headers: "a=1;b=2" in the protocol example, "a=1,b=2" in the XML example: accept both. */
export function parseExtraHeaders(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v !== 'string') return out;
  for (const pair of v.split(/[;,]/)) {
    const eq = pair.indexOf('=');
    if (eq > 0) out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

export const createPlivoAdapter: AdapterFactory = () => {
  const b64 = new Base64Decoder();
  let streamId = '';
  let mediaPrefix = '';

  const adapter: ProtocolAdapter = {
    name: 'plivo',
    dtmfEvents: true,
    marks: true,
    marksOnClear: 'dropped',
    // PROTOCOLS.md: closing runs the XML after <Stream> (keepCallAlive): REST hangup; transfer: REST, if supported.
    hangupVia: 'rest',
    transferVia: 'rest',
    frameMs: 20,
    padTo: -1,
    binaryAudio: false,
    subprotocols: [],

    onText(text: string, sink: InboundSink) {
      const m = parseObject(text);
      if (!m) return sink.malformed('invalid JSON');
      if (m.sequenceNumber !== undefined) sink.seq(counter(m.sequenceNumber));
      switch (m.event) {
        case 'start': {
          const s = obj(m.start);
          const mf = obj(s.mediaFormat);
          const fmt = contentFormat(str(mf.encoding), counter(mf.sampleRate));
          if (!fmt) return sink.malformed(`unsupported mediaFormat.encoding ${JSON.stringify(mf.encoding)}`);
          streamId = str(s.streamId) ?? str(m.streamId) ?? '';
          const contentType = fmt.encoding === 'mulaw' ? 'audio/x-mulaw' : 'audio/x-l16';
          mediaPrefix = `{"event":"playAudio","media":{"contentType":"${contentType}","sampleRate":${fmt.sampleRate},"payload":"`;
          const params = parseExtraHeaders(m.extra_headers ?? s.extra_headers ?? s.extraHeaders);
          return sink.start({
            callId: str(s.callId) ?? streamId,
            streamId,
            from: params.from,
            to: params.to,
            customParameters: params,
            paramKey: params.assistantApiKey,
            inboundFormat: fmt,
            outboundFormat: fmt,
          });
        }
        case 'media': {
          const media = obj(m.media);
          if (media.track !== undefined && media.track !== 'inbound') return;
          const bytes = b64.decode(media.payload);
          if (!bytes) return sink.malformed('media payload is not base64');
          return sink.audio(bytes);
        }
        case 'dtmf': {
          const d = obj(m.dtmf).digit;
          if (!validDigit(d)) return sink.malformed('dtmf without a valid digit');
          return sink.dtmf(d);
        }
        case 'playedStream':
        case 'played': {
          const name = str(m.name);
          if (name === undefined) return sink.malformed('playedStream without name');
          return sink.mark(name);
        }
        case 'clearedAudio':
          return sink.cleared();
        case 'stop':
          return sink.stop('stop');
        default:
          return sink.malformed(`unknown event ${JSON.stringify(m.event)}`);
      }
    },

    onBinary(_data, sink) {
      binaryNotExpected(sink);
    },

    accepted: () => undefined,
    encodeAudio: (frame) => `${mediaPrefix}${toBase64(frame)}"}}`,
    encodeMark: (name) => JSON.stringify({ event: 'checkpoint', streamId, name }),
    encodeClear: () => JSON.stringify({ event: 'clearAudio', streamId }),
    encodeHangup: () => undefined,
    encodeTransfer: () => undefined,
    encodeDtmf: (digits) => JSON.stringify({ event: 'sendDTMF', dtmf: digits }),
    encodeEvent: () => undefined,
  };
  return adapter;
};
