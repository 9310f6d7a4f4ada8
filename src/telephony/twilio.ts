import { MULAW_8K } from '../audio/format.js';
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
 * Twilio Media Streams, bidirectional (<Connect><Stream>), PROTOCOLS.md "twilio". JSON text only; mu-law 8 kHz;
 * out: media / mark / clear with the streamSid echoed; marks echoed when played and ALL pending marks echoed at
 * once on clear. No hangup or transfer on the socket: closing it ends the <Stream> (REST does the rest).
 */
export const createTwilioAdapter: AdapterFactory = () => {
  const b64 = new Base64Decoder();
  let streamSid = '';
  let mediaPrefix = '';
  let clearMsg = '';

  const adapter: ProtocolAdapter = {
    name: 'twilio',
    dtmfEvents: true,
    marks: true,
    marksOnClear: 'echoed',
    // PROTOCOLS.md: closing ends the <Stream>, and the call when no TwiML follows; transfer: REST call update.
    hangupVia: 'close',
    transferVia: 'rest',
    frameMs: 20,
    padTo: -1,
    binaryAudio: false,
    subprotocols: ['audio.twilio.com'],

    onText(text: string, sink: InboundSink) {
      const m = parseObject(text);
      if (!m) return sink.malformed('invalid JSON');
      if (m.sequenceNumber !== undefined) sink.seq(counter(m.sequenceNumber));
      switch (m.event) {
        case 'connected':
          return;
        case 'start': {
          const s = obj(m.start);
          streamSid = str(s.streamSid) ?? str(m.streamSid) ?? '';
          if (!streamSid) return sink.malformed('start without streamSid');
          // Built once: every outbound frame is this prefix + base64 + suffix, no JSON.stringify per frame.
          mediaPrefix = `{"event":"media","streamSid":${JSON.stringify(streamSid)},"media":{"payload":"`;
          clearMsg = JSON.stringify({ event: 'clear', streamSid });
          const params = stringParams(s.customParameters);
          return sink.start({
            callId: str(s.callSid) ?? streamSid,
            streamId: streamSid,
            from: params.from ?? params.From,
            to: params.to ?? params.To,
            customParameters: params,
            paramKey: params.assistantApiKey,
            inboundFormat: MULAW_8K,
            outboundFormat: MULAW_8K,
          });
        }
        case 'media': {
          const media = obj(m.media);
          if (media.track !== undefined && media.track !== 'inbound' && media.track !== 'inbound_track') return;
          const bytes = b64.decode(media.payload);
          if (!bytes) return sink.malformed('media payload is not base64');
          return sink.audio(bytes);
        }
        case 'dtmf': {
          const digit = obj(m.dtmf).digit;
          if (!validDigit(digit)) return sink.malformed('dtmf without a valid digit');
          return sink.dtmf(digit);
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
    encodeAudio: (frame) => `${mediaPrefix}${toBase64(frame)}"}}`,
    encodeMark: (name) => JSON.stringify({ event: 'mark', streamSid, mark: { name } }),
    encodeClear: () => clearMsg,
    encodeHangup: () => undefined,
    encodeTransfer: () => undefined,
    encodeDtmf: () => undefined,
    encodeEvent: () => undefined,
  };
  return adapter;
};
