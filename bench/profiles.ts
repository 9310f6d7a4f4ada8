/**
 * Provider timing profiles for `bench latency --profile` and `bench load --mode full` (figures and their sources:
 * bench/README.md). Every latency is multiplied per event by a seeded jitter factor, uniform in
 * [1 - jitter, 1 + jitter], so runs are repeatable and p95 is not p50.
 */
import { prng } from '../fixtures/lib/synth.js';

export interface ProviderProfile {
  name: 'fast' | 'realistic' | 'slow';
  /** Streaming ASR: first interim result after speech onset, ms. */
  asrFirstInterimMs: number;
  /** Streaming ASR: final result after the end of speech, ms. */
  asrFinalMs: number;
  /** The recognizer's own end of segment (silence that closes an utterance), ms. */
  asrSegmentGapMs: number;
  /** LLM: request sent -> first token, ms. */
  llmFirstTokenMs: number;
  /** LLM: between streamed tokens, ms. */
  llmTokenIntervalMs: number;
  /** TTS: request sent -> first audio byte, ms. */
  ttsFirstByteMs: number;
  /** Relative jitter (0.25 = +-25 %). */
  jitter: number;
}

export const PROFILES: Record<ProviderProfile['name'], ProviderProfile> = {
  // The old fixed figures: what the engine adds when providers are nearly instant.
  fast: {
    name: 'fast',
    asrFirstInterimMs: 80,
    asrFinalMs: 100,
    asrSegmentGapMs: 200,
    llmFirstTokenMs: 200,
    llmTokenIntervalMs: 0,
    ttsFirstByteMs: 80,
    jitter: 0,
  },
  // Published typical figures of cloud providers (bench/README.md).
  realistic: {
    name: 'realistic',
    asrFirstInterimMs: 300,
    asrFinalMs: 150,
    asrSegmentGapMs: 200,
    llmFirstTokenMs: 400,
    llmTokenIntervalMs: 15,
    ttsFirstByteMs: 200,
    jitter: 0.25,
  },
  // A congested network or a large model: the tail a deployment must survive.
  slow: {
    name: 'slow',
    asrFirstInterimMs: 500,
    asrFinalMs: 300,
    asrSegmentGapMs: 200,
    llmFirstTokenMs: 900,
    llmTokenIntervalMs: 30,
    ttsFirstByteMs: 400,
    jitter: 0.4,
  },
};

export function profileNamed(name: string): ProviderProfile | undefined {
  return (PROFILES as Record<string, ProviderProfile>)[name];
}

/** A seeded jitter source for a profile: each call returns a multiplier around 1. */
export function jitterOf(p: ProviderProfile, seed: number): () => number {
  const r = prng(seed);
  return () => 1 + (r() * 2 - 1) * p.jitter;
}
