import { AudioConverter } from '../audio/convert.js';
import { DtmfDetector } from '../audio/dtmf.js';
import type { AudioFormat } from '../audio/format.js';
import { Resampler } from '../audio/resample.js';
import type { ConverterFactory, InbandDtmf, InbandDtmfFactory } from './leg-options.js';

/**
 * In-band DTMF for protocols that send no DTMF events (FreeSWITCH forks): the Q.24 detector of src/audio/dtmf.ts
 * runs at 8 kHz, so other rates go through one streaming resampler per call.
 */
export const createInbandDtmf: InbandDtmfFactory = (inbound: AudioFormat, onDigit): InbandDtmf => {
  const det = new DtmfDetector({ onDigit: (e) => onDigit(e.digit, e.endMs - e.startMs) });
  if (inbound.sampleRate === 8000) return { push: (pcm) => det.push(pcm) };
  const rs = new Resampler(inbound.sampleRate, 8000);
  return { push: (pcm) => det.push(rs.process(pcm)) };
};

export const createConverter: ConverterFactory = (from, to) => new AudioConverter(from, to);
