import {
  type AdapterFactory,
  type InboundSink,
  obj,
  type ProtocolAdapter,
  parseObject,
  str,
  validDigit,
} from './adapter.js';
import { toBase64 } from './base64.js';
import { forkStartMeta } from './fs-metadata.js';

/**
 * FreeSWITCH mod_audio_stream (community build), PROTOCOLS.md "freeswitch". In: optional metadata text, then
 * binary L16 LE at the rate given to `uuid_audio_stream` (say it in the metadata or the URL query). Out: the
 * module plays nothing itself: each `streamAudio` JSON becomes a temp file and a `mod_audio_stream::play` event
 * for the ESL controller to play (uuid_broadcast). LIMITATION: playback needs that controller, and one message is
 * one file, so audio goes out in 1 s messages (not 20 ms frames), paced one message ahead; barge-in is only as fast
 * as the controller's `uuid_break` on our `{"type":"clear"}`. No marks on the wire: the leg resolves them from its
 * clock. DTMF is detected in-band, unless the controller forwards `{"event":"dtmf","digit":"5"}` (send_text).
 * Control messages for the controller (our convention, delivered as `mod_audio_stream::json`):
 * `{"type":"clear"}`, `{"type":"hangup","reason"}`, `{"type":"transfer","target","mode"}`.
 */
export const createFreeswitchAdapter: AdapterFactory = ({ query }) => {
  let started = false;
  let prefix = '';

  const start = (sink: InboundSink, metadata: string | undefined): void => {
    started = true;
    const meta = forkStartMeta('freeswitch', metadata, query);
    prefix = `{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":${meta.outboundFormat.sampleRate},"audioData":"`;
    sink.start(meta);
  };

  const adapter: ProtocolAdapter = {
    name: 'freeswitch',
    dtmfEvents: false,
    marks: false,
    marksOnClear: 'dropped',
    // PROTOCOLS.md: controller JSON: uuid_kill / uuid_transfer.
    hangupVia: 'message',
    transferVia: 'message',
    frameMs: 1000,
    padTo: 0,
    binaryAudio: true,
    subprotocols: [],

    onText(text: string, sink: InboundSink) {
      if (!started) return start(sink, text);
      const m = parseObject(text);
      if (!m) return sink.malformed('invalid JSON');
      if (m.event === 'dtmf') {
        const d = m.digit ?? obj(m.dtmf).digit;
        if (!validDigit(d)) return sink.malformed('dtmf without a valid digit');
        return sink.dtmf(d);
      }
      if (m.event === 'stop' || m.type === 'stop') return sink.stop(str(m.reason) ?? 'stop');
      return sink.malformed(`unknown message ${JSON.stringify(m.event ?? m.type)}`);
    },

    onBinary(data: Uint8Array, sink: InboundSink) {
      if (!started) start(sink, undefined);
      if (data.length > 0) sink.audio(data);
    },

    accepted: () => undefined,
    encodeAudio: (chunk) => `${prefix}${toBase64(chunk)}"}}`,
    encodeMark: () => undefined,
    encodeClear: () => '{"type":"clear"}',
    encodeHangup: (reason) => JSON.stringify({ type: 'hangup', reason }),
    encodeTransfer: (target, mode, summary) => JSON.stringify({ type: 'transfer', target, mode, summary }),
    encodeDtmf: () => undefined,
    encodeEvent: () => undefined,
  };
  return adapter;
};
