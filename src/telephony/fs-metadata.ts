import { type AudioFormat, pcmFormat } from '../audio/format.js';
import {
  type AdapterFactory,
  generatedCallId,
  type InboundSink,
  obj,
  type ProtocolAdapter,
  parseObject,
  type StartMeta,
  str,
  stringParams,
  validDigit,
} from './adapter.js';
import { toBase64 } from './base64.js';
import type { LegOutboundEvent, TransferMode } from './leg.js';

/**
 * FreeSWITCH forks (mod_audio_stream, mod_audio_fork) send optional free-form metadata as the first text frame,
 * and nothing on the wire states the audio rate. Our convention (docs/native-protocol.md, "FreeSWITCH"):
 * compact JSON `{"callId"|"callid"|"uuid","from","to","sampleRate","assistantApiKey",...}`; the stream URL query
 * may carry the same keys (`?sampleRate=16000&callId=...`). Anything else in the JSON becomes a custom parameter;
 * non-JSON metadata is kept whole as customParameters.metadata.
 */
const RATES = new Set([8000, 16000, 24000, 32000, 48000, 64000]);

export function forkStartMeta(protocol: string, metadata: string | undefined, query: URLSearchParams): StartMeta {
  const params: Record<string, string> = {};
  for (const [k, v] of query) params[k] = v;
  if (metadata !== undefined) {
    const m = parseObject(metadata);
    if (m) Object.assign(params, stringParams(m));
    else params.metadata = metadata;
  }
  const rate = Number(params.sampleRate ?? params.sample_rate ?? params.rate ?? 8000);
  const fmt: AudioFormat = pcmFormat(RATES.has(rate) ? rate : 8000);
  return {
    callId: str(params.callId ?? params.callid ?? params.uuid) ?? generatedCallId(protocol),
    from: params.from,
    to: params.to,
    customParameters: params,
    paramKey: params.assistantApiKey,
    inboundFormat: fmt,
    outboundFormat: fmt,
  };
}

/** What differs between the two FreeSWITCH forks: message names for the controller and the subprotocol. */
export interface ForkSpec {
  name: 'freeswitch' | 'audiofork';
  subprotocols: string[];
  /** JSON text up to the base64 audio, for a play message at `rate` Hz; `"}}` closes it. */
  playPrefix(rate: number): string;
  clear: string;
  hangup(reason: string): string;
  transfer(target: string, mode: TransferMode, summary?: string): string;
  event?(event: LegOutboundEvent): string | undefined;
}

/**
 * The FreeSWITCH forks play nothing themselves: each play message becomes a file the ESL controller plays, so audio
 * goes out in 1 s messages paced one message ahead, there are no marks on the wire (the leg resolves them from its
 * clock), DTMF is detected in-band unless the controller forwards `{"event":"dtmf","digit":"5"}`, and clear /
 * hangup / transfer are JSON messages for the controller to act on.
 */
export function forkAdapter(spec: ForkSpec): AdapterFactory {
  return ({ query }) => {
    let started = false;
    let prefix = '';

    const start = (sink: InboundSink, metadata: string | undefined): void => {
      started = true;
      const meta = forkStartMeta(spec.name, metadata, query);
      prefix = spec.playPrefix(meta.outboundFormat.sampleRate);
      sink.start(meta);
    };

    const adapter: ProtocolAdapter = {
      name: spec.name,
      dtmfEvents: false,
      marks: false,
      marksOnClear: 'dropped',
      hangupVia: 'message',
      transferVia: 'message',
      frameMs: 1000,
      padTo: 0,
      binaryAudio: true,
      subprotocols: spec.subprotocols,

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
        // An empty binary frame is mod_audio_fork's graceful-shutdown marker, not audio.
        if (data.length > 0) sink.audio(data);
      },

      accepted: () => undefined,
      encodeAudio: (chunk) => `${prefix}${toBase64(chunk)}"}}`,
      encodeMark: () => undefined,
      encodeClear: () => spec.clear,
      encodeHangup: (reason) => spec.hangup(reason),
      encodeTransfer: (target, mode, summary) => spec.transfer(target, mode, summary),
      encodeDtmf: () => undefined,
      encodeEvent: (event) => spec.event?.(event),
    };
    return adapter;
  };
}
