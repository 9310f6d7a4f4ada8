import { type AudioFormat, pcmFormat } from '../audio/format.js';
import { generatedCallId, parseObject, type StartMeta, str, stringParams } from './adapter.js';

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
