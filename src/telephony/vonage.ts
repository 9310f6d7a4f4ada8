import { PCM_8K, PCM_16K } from '../audio/format.js';
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
 * Vonage Voice API WebSocket endpoint, PROTOCOLS.md "vonage". First a text `websocket:connected` carrying
 * `content-type` (audio/l16;rate=16000|8000) and the NCCO `headers` flattened in (our custom parameters); then
 * binary L16 LE, exactly 20 ms per message both ways (640 / 320 bytes: the last message is padded with silence).
 * notify -> websocket:notify (marks); clear -> websocket:cleared (pending notifies assumed dropped). No hangup or
 * transfer on the socket (REST with a JWT); closing the socket ends only the websocket leg.
 */
const RESERVED = new Set(['event', 'content-type']);

export const createVonageAdapter: AdapterFactory = ({ query }) => {
  let started = false;

  const adapter: ProtocolAdapter = {
    name: 'vonage',
    dtmfEvents: true,
    marks: true,
    marksOnClear: 'dropped',
    // PROTOCOLS.md: closing ends only the websocket leg: REST Voice API.
    hangupVia: 'rest',
    transferVia: 'rest',
    frameMs: 20,
    padTo: -1,
    binaryAudio: true,
    subprotocols: [],

    onText(text: string, sink: InboundSink) {
      const m = parseObject(text);
      if (!m) return sink.malformed('invalid JSON');
      switch (m.event) {
        case 'websocket:connected': {
          if (started) return sink.malformed('second websocket:connected');
          started = true;
          const ct = str(m['content-type']) ?? '';
          const fmt = /rate=8000\b/.test(ct) ? PCM_8K : PCM_16K;
          const params = stringParams(m);
          for (const k of RESERVED) delete params[k];
          for (const [k, v] of query) if (!(k in params)) params[k] = v;
          return sink.start({
            callId: params.call_id ?? params.uuid ?? params.callId ?? generatedCallId('vonage'),
            from: params.from ?? params.caller,
            to: params.to,
            customParameters: params,
            paramKey: params.assistantApiKey,
            inboundFormat: fmt,
            outboundFormat: fmt,
          });
        }
        case 'websocket:dtmf': {
          const digit = m.digit ?? obj(m.dtmf).digit;
          if (!validDigit(digit)) return sink.malformed('websocket:dtmf without a valid digit');
          const dur = counter(m.duration ?? obj(m.dtmf).duration);
          return sink.dtmf(digit, dur >= 0 ? dur : undefined);
        }
        case 'websocket:notify': {
          const name = str(obj(m.payload).name);
          if (name === undefined) return; // a notify that is not one of ours
          return sink.mark(name);
        }
        case 'websocket:cleared':
          return sink.cleared();
        default:
          return sink.malformed(`unknown event ${JSON.stringify(m.event)}`);
      }
    },

    onBinary(data: Uint8Array, sink: InboundSink) {
      if (!started) return sink.malformed('audio before websocket:connected');
      sink.audio(data);
    },

    accepted: () => undefined,
    // ws keeps a reference to what it sends, so the reused frame is copied (Buffer.from: pooled allocation).
    encodeAudio: (frame) => Buffer.from(frame),
    encodeMark: (name) => JSON.stringify({ action: 'notify', payload: { name } }),
    encodeClear: () => '{"action":"clear"}',
    encodeHangup: () => undefined,
    encodeTransfer: () => undefined,
    encodeDtmf: () => undefined,
    encodeEvent: () => undefined,
  };
  return adapter;
};
