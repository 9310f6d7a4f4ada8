import { ALAW_8K, type AudioFormat, MULAW_8K, pcmFormat } from '../audio/format.js';
import {
  type AdapterFactory,
  binaryNotExpected,
  counter,
  type InboundSink,
  obj,
  type ProtocolAdapter,
  parseObject,
  str,
  stringParams,
  validDigit,
} from './adapter.js';
import { Base64Decoder, toBase64 } from './base64.js';
import { Reorderer } from './reorder.js';

/**
 * Telnyx media streaming, bidirectional RTP mode, PROTOCOLS.md "telnyx". snake_case; stream_id at the top level;
 * PCMU / PCMA / L16 (big-endian, RFC 2586: swapped to little-endian here, both ways). The outbound codec is fixed
 * at stream start by `stream_bidirectional_codec` / `_sampling_rate`, which the socket does not repeat: we assume it
 * equals the inbound codec (PCMU 8 kHz by default), and the stream URL may say otherwise with
 * `?bidirectional_codec=PCMA&bidirectional_sampling_rate=16000`. Marks echoed when played and on clear.
 * Frames may arrive out of order (Telnyx says so): a reorder buffer of 3 frames releases them in media.chunk order.
 */
function codecFormat(encoding: string | undefined, rate: number): AudioFormat | undefined {
  switch ((encoding ?? '').toUpperCase()) {
    case 'PCMU':
    case 'AUDIO/X-MULAW':
    case '':
      return MULAW_8K;
    case 'PCMA':
    case 'AUDIO/X-ALAW':
      return ALAW_8K;
    case 'L16':
    case 'AUDIO/L16':
      return pcmFormat(rate === 16000 || rate === 24000 ? rate : 8000);
    default:
      return undefined;
  }
}

function swap16(src: Uint8Array, dst: Uint8Array): Uint8Array {
  for (let i = 0; i + 1 < src.length; i += 2) {
    const a = src[i]!;
    dst[i] = src[i + 1]!;
    dst[i + 1] = a;
  }
  return dst.subarray(0, src.length & ~1);
}

export const createTelnyxAdapter: AdapterFactory = ({ query }) => {
  const b64 = new Base64Decoder();
  let swapIn = false;
  let swapOut = false;
  let swapBuf = new Uint8Array(0);
  const outSwap = new Uint8Array(2048);
  // Frames are released in media.chunk order, up to 3 held (60 ms) while one is missing.
  let current: InboundSink | undefined;
  const reorder = new Reorderer(3, (bytes) => current?.audio(bytes));

  const adapter: ProtocolAdapter = {
    name: 'telnyx',
    dtmfEvents: true,
    marks: true,
    marksOnClear: 'echoed',
    // PROTOCOLS.md: closing the socket does not end the call: REST hangup / transfer.
    hangupVia: 'rest',
    transferVia: 'rest',
    frameMs: 20,
    padTo: -1,
    binaryAudio: false,
    subprotocols: [],

    onText(text: string, sink: InboundSink) {
      const m = parseObject(text);
      if (!m) return sink.malformed('invalid JSON');
      if (m.sequence_number !== undefined) sink.seq(counter(m.sequence_number));
      switch (m.event) {
        case 'connected':
        case 'error': // the platform reporting our error (rate_limit_reached...): nothing to play or parse
          return;
        case 'start': {
          const s = obj(m.start);
          const mf = obj(s.media_format);
          const inbound = codecFormat(str(mf.encoding), counter(mf.sample_rate));
          if (!inbound) return sink.malformed(`unsupported media_format.encoding ${JSON.stringify(mf.encoding)}`);
          const outCodec = query.get('bidirectional_codec') ?? undefined;
          const outRate = Number(query.get('bidirectional_sampling_rate') ?? inbound.sampleRate);
          const outbound =
            outCodec !== undefined
              ? (codecFormat(outCodec, outRate) ?? MULAW_8K)
              : inbound.encoding === 'pcm16'
                ? pcmFormat(outRate)
                : inbound;
          swapIn = inbound.encoding === 'pcm16';
          swapOut = outbound.encoding === 'pcm16';
          const params = stringParams(s.custom_parameters);
          const streamId = str(m.stream_id) ?? str(s.stream_id);
          return sink.start({
            callId: str(s.call_control_id) ?? streamId ?? '',
            streamId,
            from: str(s.from),
            to: str(s.to),
            customParameters: params,
            paramKey: params.assistantApiKey,
            inboundFormat: inbound,
            outboundFormat: outbound,
          });
        }
        case 'media': {
          const media = obj(m.media);
          // With both_tracks, our own audio comes back as `outbound`: drop it or the agent hears itself.
          if (media.track === 'outbound') return;
          const bytes = b64.decode(media.payload);
          if (!bytes) return sink.malformed('media payload is not base64');
          current = sink;
          if (!swapIn) return reorder.push(counter(media.chunk), bytes);
          if (swapBuf.length < bytes.length) swapBuf = new Uint8Array(bytes.length * 2);
          return reorder.push(counter(media.chunk), swap16(bytes, swapBuf));
        }
        case 'dtmf': {
          const d = obj(m.dtmf).digit;
          if (!validDigit(d)) return sink.malformed('dtmf without a valid digit');
          return sink.dtmf(d);
        }
        case 'mark': {
          const name = str(obj(m.mark).name);
          if (name === undefined) return sink.malformed('mark without name');
          return sink.mark(name);
        }
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
    encodeAudio: (frame) =>
      `{"event":"media","media":{"payload":"${toBase64(swapOut ? swap16(frame, outSwap) : frame)}"}}`,
    encodeMark: (name) => JSON.stringify({ event: 'mark', mark: { name } }),
    encodeClear: () => '{"event":"clear"}',
    encodeHangup: () => undefined,
    encodeTransfer: () => undefined,
    encodeDtmf: () => undefined,
    encodeEvent: () => undefined,
  };
  return adapter;
};
