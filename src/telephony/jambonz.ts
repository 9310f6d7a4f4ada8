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
 * jambonz `listen` with bidirectionalAudio {enabled, streaming: true}, PROTOCOLS.md "jambonz". Subprotocols
 * `audio.jambonz.org` or `audio.drachtio.org`, echoed as offered. In: one JSON metadata text (call attributes +
 * sampleRate + our metadata keys at the top level), then binary L16 LE of varying size. Out: binary L16 at the
 * same rate (keep `bidirectionalAudio.sampleRate` equal to `sampleRate`: marks misfire through the resampler);
 * `mark` -> `{"type":"mark","data":{"name","event":"playout"|"cleared"}}`; `killAudio` clears and returns pending
 * marks as `cleared`; `disconnect` ends the verb. jambonz stores marks in-band as the sample 0xFFFF, so an outbound
 * sample of -1 becomes -2 (inaudible) to keep marks from firing early.
 */
const CALL_KEYS = new Set([
  'sampleRate',
  'mixType',
  'callSid',
  'direction',
  'from',
  'to',
  'callId',
  'sbcCallid',
  'sipStatus',
  'sipReason',
  'callStatus',
  'callerId',
  'accountSid',
  'traceId',
  'applicationSid',
  'fsSipAddress',
  'parentCallSid',
  'customerData',
  'headers',
  'apiBaseUrl',
  'event',
  'type',
]);

export const createJambonzAdapter: AdapterFactory = () => {
  let started = false;

  const adapter: ProtocolAdapter = {
    name: 'jambonz',
    dtmfEvents: true,
    marks: true,
    marksOnClear: 'echoed',
    // PROTOCOLS.md: disconnect on the socket; transfer by REST call_hook.
    hangupVia: 'message',
    transferVia: 'rest',
    frameMs: 20,
    padTo: 0,
    binaryAudio: true,
    subprotocols: ['audio.jambonz.org', 'audio.drachtio.org'],

    onText(text: string, sink: InboundSink) {
      const m = parseObject(text);
      if (!m) return sink.malformed('invalid JSON');
      if (!started) {
        started = true;
        const rate = counter(m.sampleRate);
        const fmt = pcmFormat([8000, 16000, 24000, 48000, 64000].includes(rate) ? rate : 8000);
        const all = stringParams(m);
        const params: Record<string, string> = {};
        for (const [k, v] of Object.entries(all)) if (!CALL_KEYS.has(k)) params[k] = v;
        Object.assign(params, stringParams(m.customerData));
        return sink.start({
          callId: str(m.callSid) ?? str(m.callId) ?? generatedCallId('jambonz'),
          from: str(m.from),
          to: str(m.to),
          customParameters: params,
          paramKey: params.assistantApiKey,
          inboundFormat: fmt,
          outboundFormat: fmt,
        });
      }
      if (m.event === 'dtmf') {
        if (!validDigit(m.dtmf)) return sink.malformed('dtmf without a valid digit');
        const units = counter(m.duration); // RTP timestamp units at 8 kHz
        return sink.dtmf(m.dtmf, units >= 0 ? units / 8 : undefined);
      }
      if (m.type === 'mark') {
        const d = obj(m.data);
        const name = str(d.name);
        if (name === undefined) return sink.malformed('mark without data.name');
        // `cleared` echoes follow our killAudio: the leg already resolved those marks.
        return d.event === 'cleared' ? undefined : sink.mark(name);
      }
      if (m.type === 'playDone') return;
      return sink.malformed(`unknown message ${JSON.stringify(m.event ?? m.type)}`);
    },

    onBinary(data: Uint8Array, sink: InboundSink) {
      if (!started) return sink.malformed('audio before metadata');
      if (data.length > 0) sink.audio(data); // an empty frame arrives on graceful shutdown
    },

    accepted: () => undefined,
    encodeAudio: (frame) => {
      const out = Buffer.from(frame);
      for (let i = 0; i + 1 < out.length; i += 2) {
        if (out[i] === 0xff && out[i + 1] === 0xff) out[i] = 0xfe; // -1 -> -2, LE
      }
      return out;
    },
    encodeMark: (name) => JSON.stringify({ type: 'mark', data: { name } }),
    encodeClear: () => '{"type":"killAudio"}',
    encodeHangup: () => '{"type":"disconnect"}',
    encodeTransfer: () => undefined,
    encodeDtmf: () => undefined,
    encodeEvent: () => undefined,
  };
  return adapter;
};
