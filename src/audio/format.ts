/**
 * Audio formats are negotiated, not assumed (DESIGN.md section 1): every stage declares what it accepts and
 * produces, and the session inserts a converter only where two stages disagree.
 */
export type Encoding = 'pcm16' | 'mulaw' | 'alaw';

export interface AudioFormat {
  readonly encoding: Encoding;
  /** Hz */
  readonly sampleRate: number;
  readonly channels: 1;
}

/**
 * One spoken word of synthesized audio, ms relative to the start of that utterance's audio (not of the chunk).
 * Declared here because audio/ sits below providers/; src/providers/types.ts re-exports it for the session.
 */
export interface WordTiming {
  word: string;
  startMs: number;
  endMs: number;
}

/** A chunk of audio in a declared format. pcm16 data is little-endian bytes. */
export interface AudioChunk {
  readonly format: AudioFormat;
  readonly data: Uint8Array;
  /** Words whose timings arrived with this chunk (ElevenLabs alignment), when the provider gives them. */
  words?: WordTiming[];
}

export const MULAW_8K: AudioFormat = Object.freeze({ encoding: 'mulaw', sampleRate: 8000, channels: 1 });
export const ALAW_8K: AudioFormat = Object.freeze({ encoding: 'alaw', sampleRate: 8000, channels: 1 });
export const PCM_8K: AudioFormat = Object.freeze({ encoding: 'pcm16', sampleRate: 8000, channels: 1 });
export const PCM_16K: AudioFormat = Object.freeze({ encoding: 'pcm16', sampleRate: 16000, channels: 1 });
export const PCM_24K: AudioFormat = Object.freeze({ encoding: 'pcm16', sampleRate: 24000, channels: 1 });

export function pcmFormat(sampleRate: number): AudioFormat {
  return { encoding: 'pcm16', sampleRate, channels: 1 };
}

export function sameFormat(a: AudioFormat, b: AudioFormat): boolean {
  return a.encoding === b.encoding && a.sampleRate === b.sampleRate && a.channels === b.channels;
}

export function bytesPerSample(f: AudioFormat): number {
  return f.encoding === 'pcm16' ? 2 : 1;
}

/** Bytes in `ms` milliseconds of audio in format `f`. */
export function bytesPerMs(f: AudioFormat, ms: number): number {
  return Math.round((f.sampleRate * ms) / 1000) * bytesPerSample(f) * f.channels;
}

export function formatName(f: AudioFormat): string {
  return `${f.encoding}_${f.sampleRate}`;
}
