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
  stringParams,
  validDigit,
} from './adapter.js';
import { Base64Decoder, toBase64 } from './base64.js';

/**
 * Exotel AgentStream, Voicebot applet (bidirectional), PROTOCOLS.md "exotel". snake_case, counters strings or
 * numbers. Audio: raw PCM16 LE at 8 kHz (`?sample-rate=16000|24000` on the stream URL), or mu-law 8 kHz when
 * media_format says so (the conflicting beta guide). Outbound chunks must decode to >= 3.2 KB and a multiple of
 * 320 bytes (an unaligned tail plays and then waits 20 ms: audible gaps), so each message is
 * max(3200 B, 100 ms) rounded up to 320 B, and the last one is padded with silence to a whole message.
 * Marks echoed when played; whether pending marks are echoed on clear is unconfirmed: the leg resolves them at
 * clear and ignores late echoes of those names either way.
 */
export function exotelFrameBytes(f: AudioFormat): number {
  const bytes100ms = (f.sampleRate / 10) * (f.encoding === 'pcm16' ? 2 : 1);
  return Math.ceil(Math.max(3200, bytes100ms) / 320) * 320;
}

export const createExotelAdapter: AdapterFactory = ({ query }) => {
  const b64 = new Base64Decoder();
  let streamSid = '';
  let mediaPrefix = '';

  const adapter: ProtocolAdapter = {
    name: 'exotel',
    dtmfEvents: true,
    marks: true,
    marksOnClear: 'echoed',
    // PROTOCOLS.md: closing hands the call to the next applet of the flow; no transfer message or REST.
    hangupVia: 'close',
    transferVia: 'none',
    frameMs: 100,
    padTo: -1,
    binaryAudio: false,
    subprotocols: [],

    onText(text: string, sink: InboundSink) {
      const m = parseObject(text);
      if (!m) return sink.malformed('invalid JSON');
      if (m.sequence_number !== undefined) sink.seq(counter(m.sequence_number));
      switch (m.event) {
        case 'connected':
          return;
        case 'start': {
          const s = obj(m.start);
          const mf = obj(s.media_format);
          const enc = (str(mf.encoding) ?? 'raw').toLowerCase();
          let rate = counter(mf.sample_rate);
          if (rate <= 0) rate = Number(query.get('sample-rate') ?? 8000);
          if (rate !== 16000 && rate !== 24000) rate = 8000;
          const fmt = enc.includes('mulaw') ? MULAW_8K : pcmFormat(rate);
          streamSid = str(m.stream_sid) ?? str(s.stream_sid) ?? '';
          mediaPrefix = `{"event":"media","stream_sid":${JSON.stringify(streamSid)},"media":{"payload":"`;
          const params = stringParams(s.custom_parameters);
          return sink.start({
            callId: str(s.call_sid) ?? streamSid,
            streamId: streamSid,
            from: str(s.from),
            to: str(s.to),
            customParameters: params,
            paramKey: params.assistantApiKey,
            inboundFormat: fmt,
            outboundFormat: fmt,
            outboundFrameBytes: exotelFrameBytes(fmt),
          });
        }
        case 'media': {
          const bytes = b64.decode(obj(m.media).payload);
          if (!bytes) return sink.malformed('media payload is not base64');
          return sink.audio(bytes);
        }
        case 'dtmf': {
          const d = obj(m.dtmf);
          if (!validDigit(d.digit)) return sink.malformed('dtmf without a valid digit');
          const dur = counter(d.duration);
          return sink.dtmf(d.digit, dur >= 0 ? dur : undefined);
        }
        case 'mark': {
          const name = str(obj(m.mark).name);
          if (name === undefined) return sink.malformed('mark without name');
          return sink.mark(name);
        }
        case 'stop':
          return sink.stop(str(obj(m.stop).reason) ?? 'stop');
        default:
          return sink.malformed(`unknown event ${JSON.stringify(m.event)}`);
      }
    },

    onBinary(_data, sink) {
      binaryNotExpected(sink);
    },

    accepted: () => undefined,
    encodeAudio: (frame) => `${mediaPrefix}${toBase64(frame)}"}}`,
    encodeMark: (name) => JSON.stringify({ event: 'mark', stream_sid: streamSid, mark: { name } }),
    encodeClear: () => JSON.stringify({ event: 'clear', stream_sid: streamSid }),
    encodeHangup: () => undefined,
    encodeTransfer: () => undefined,
    encodeDtmf: () => undefined,
    encodeEvent: () => undefined,
  };
  return adapter;
};
