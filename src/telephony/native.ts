import { pcmFormat } from '../audio/format.js';
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
 * Our own protocol, PROTOCOLS.md "native (ours)", documented in docs/native-protocol.md. JSON control with a
 * `type`, binary PCM16 LE mono at the rate agreed in `start` (8000, 16000, 24000, 48000), any whole number of
 * samples. The engine answers `start` with `ready`, sends paced 20 ms binary frames, marks, clear, transcripts and
 * events, hangup and transfer; the client echoes marks and may report dtmf, its own clear, and stop.
 */
export const NATIVE_VERSION = 1;
const RATES = [8000, 16000, 24000, 48000];

export const createNativeAdapter: AdapterFactory = () => {
  let started = false;
  let ready = '';

  const adapter: ProtocolAdapter = {
    name: 'native',
    dtmfEvents: true,
    marks: true,
    marksOnClear: 'echoed',
    // PROTOCOLS.md: hangup / transfer messages.
    hangupVia: 'message',
    transferVia: 'message',
    frameMs: 20,
    padTo: 0,
    binaryAudio: true,
    subprotocols: ['voice-engine.v1'],

    onText(text: string, sink: InboundSink) {
      const m = parseObject(text);
      if (!m) return sink.malformed('invalid JSON');
      switch (m.type) {
        case 'start': {
          if (started) return sink.malformed('second start');
          const version = m.version === undefined ? NATIVE_VERSION : counter(m.version);
          if (version !== NATIVE_VERSION) return sink.malformed(`unsupported version ${JSON.stringify(m.version)}`);
          const audio = obj(m.audio);
          const enc = audio.encoding ?? 'pcm16';
          const rate = audio.sampleRate === undefined ? 16000 : counter(audio.sampleRate);
          if (enc !== 'pcm16' || !RATES.includes(rate)) {
            return sink.malformed(`unsupported audio ${JSON.stringify(m.audio)}: pcm16 at 8000|16000|24000|48000`);
          }
          started = true;
          const fmt = pcmFormat(rate);
          const callId = str(m.callId) ?? generatedCallId('native');
          ready = JSON.stringify({
            type: 'ready',
            callId,
            audio: { encoding: 'pcm16', sampleRate: rate },
            frameMs: 20,
          });
          return sink.start({
            callId,
            from: str(m.from),
            to: str(m.to),
            customParameters: stringParams(m.metadata),
            paramKey: str(m.assistantApiKey),
            inboundFormat: fmt,
            outboundFormat: fmt,
          });
        }
        case 'dtmf': {
          if (!validDigit(m.digit)) return sink.malformed('dtmf without a valid digit');
          const d = counter(m.durationMs);
          return sink.dtmf(m.digit, d >= 0 ? d : undefined);
        }
        case 'mark': {
          const name = str(m.name);
          if (name === undefined) return sink.malformed('mark without name');
          return sink.mark(name);
        }
        case 'clear':
          return sink.cleared();
        case 'stop':
          return sink.stop(str(m.reason) ?? 'stop');
        default:
          return sink.malformed(`unknown type ${JSON.stringify(m.type)}`);
      }
    },

    onBinary(data: Uint8Array, sink: InboundSink) {
      if (!started) return sink.malformed('audio before start');
      sink.audio(data);
    },

    accepted: () => ready,
    encodeAudio: (frame) => Buffer.from(frame),
    encodeMark: (name) => JSON.stringify({ type: 'mark', name }),
    encodeClear: () => '{"type":"clear"}',
    encodeHangup: (reason) => JSON.stringify({ type: 'hangup', reason }),
    encodeTransfer: (target, mode, summary) =>
      JSON.stringify(
        summary === undefined ? { type: 'transfer', target, mode } : { type: 'transfer', target, mode, summary },
      ),
    encodeDtmf: (digits) => JSON.stringify({ type: 'dtmf', digits }),
    encodeEvent: (event) => JSON.stringify(event),
  };
  return adapter;
};
