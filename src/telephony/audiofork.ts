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
 * FreeSWITCH mod_audio_fork (drachtio), PROTOCOLS.md "audiofork". Subprotocol `audio.drachtio.org` must be echoed.
 * In: optional metadata text (compact JSON, e.g. {"to","from","callid"}), then binary L16 LE of varying size
 * (re-chunked by the leg); a zero-length binary frame means "end of audio" (graceful-shutdown), not audio.
 * Out: JSON only (binary is discarded by the module). `playAudio` writes a file the controller plays:
 * LIMITATION as for freeswitch: 1 s messages paced one message ahead, no marks (resolved from our clock),
 * `killAudio` as the clear, `disconnect` / `transfer` for the controller to act on. DTMF in-band unless the
 * controller forwards `{"event":"dtmf","digit":"5"}`.
 */
export const createAudioforkAdapter: AdapterFactory = ({ query }) => {
  let started = false;
  let prefix = '';

  const start = (sink: InboundSink, metadata: string | undefined): void => {
    started = true;
    const meta = forkStartMeta('audiofork', metadata, query);
    prefix = `{"type":"playAudio","data":{"audioContentType":"raw","sampleRate":${meta.outboundFormat.sampleRate},"audioContent":"`;
    sink.start(meta);
  };

  const adapter: ProtocolAdapter = {
    name: 'audiofork',
    dtmfEvents: false,
    marks: false,
    marksOnClear: 'dropped',
    // PROTOCOLS.md: disconnect / transfer events to the controller.
    hangupVia: 'message',
    transferVia: 'message',
    frameMs: 1000,
    padTo: 0,
    binaryAudio: true,
    subprotocols: ['audio.drachtio.org'],

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
      if (data.length > 0) sink.audio(data); // empty = graceful-shutdown marker
    },

    accepted: () => undefined,
    encodeAudio: (chunk) => `${prefix}${toBase64(chunk)}"}}`,
    encodeMark: () => undefined,
    encodeClear: () => '{"type":"killAudio"}',
    encodeHangup: () => '{"type":"disconnect"}',
    encodeTransfer: (target) => JSON.stringify({ type: 'transfer', data: { to: target } }),
    encodeDtmf: () => undefined,
    encodeEvent: (event) =>
      event.type === 'transcript' && event.role === 'user'
        ? JSON.stringify({ type: 'transcription', data: { text: event.text, final: event.final } })
        : undefined,
  };
  return adapter;
};
