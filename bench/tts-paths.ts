/**
 * The TTS paths `bench latency --tts` and `--matrix` measure, each a real adapter (src/providers/tts) speaking its
 * real wire protocol to its loopback fake (bench/fakes), the fake's first byte after the profile's TTS latency:
 *  - scripted:       the in-process ScriptedTts (bench/scripted.ts), no network: the reference;
 *  - http:           Deepgram Aura over HTTP, one POST /v1/speak per clause (what the session does with a TTS that
 *                    has no text stream);
 *  - aura-ws:        Deepgram Aura over the speak WebSocket: one socket per call, each reply one text stream
 *                    (Speak + Flush per clause as the LLM writes it);
 *  - elevenlabs-ws:  ElevenLabs multi-stream-input WebSocket: one socket per call, one context per reply.
 * The WebSocket adapters are wrapped in the one resilience wrapper as the registry does, so a call's replies go
 * through openTextStream() and FallbackTextStream exactly as in production (src/call/stream-speaker.ts).
 */
import { resilientTts } from '../src/providers/resilience.js';
import { DeepgramTts } from '../src/providers/tts/deepgram.js';
import { ElevenLabsTts } from '../src/providers/tts/elevenlabs.js';
import type { TtsProvider } from '../src/providers/types.js';
import { startDeepgramFake } from './fakes/deepgram.js';
import { startElevenLabsFake } from './fakes/elevenlabs.js';

export const TTS_PATHS = ['scripted', 'http', 'aura-ws', 'elevenlabs-ws'] as const;
export type TtsPath = (typeof TTS_PATHS)[number];

export interface TtsPathServer {
  /** A new adapter for one call (the WebSocket adapters keep a socket per call). */
  make(): TtsProvider;
  close(): Promise<void>;
}

const KEY = 'bench-key';

/** Starts the fake behind `path` ('scripted' needs none) with its first audio byte after `firstByteMs`. */
export async function startTtsPath(path: Exclude<TtsPath, 'scripted'>, firstByteMs: number): Promise<TtsPathServer> {
  if (path === 'elevenlabs-ws') {
    const fake = await startElevenLabsFake({ apiKey: KEY, firstByteMs });
    return {
      make: () => resilientTts([new ElevenLabsTts({ apiKey: KEY, baseUrl: fake.url })]),
      close: () => fake.close(),
    };
  }
  const fake = await startDeepgramFake({ apiKey: KEY, firstByteMs });
  return {
    make: () =>
      path === 'http'
        ? new DeepgramTts({ apiKey: KEY, baseUrl: fake.url, textStream: false })
        : resilientTts([new DeepgramTts({ apiKey: KEY, baseUrl: fake.url })]),
    close: () => fake.close(),
  };
}
