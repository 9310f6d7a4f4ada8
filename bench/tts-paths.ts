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
  /** What the calls used: text streams opened (one per reply) and per-clause synthesize() requests. */
  readonly counts: TtsCounts;
  close(): Promise<void>;
}

export interface TtsCounts {
  textStreams: number;
  clauseRequests: number;
}

/** `p` with its use counted (the bench shows which path the calls took). */
function counted(p: TtsProvider, counts: TtsCounts): TtsProvider {
  const open = p.openTextStream?.bind(p);
  return {
    id: p.id,
    formats: p.formats,
    synthesize(request, signal, timing) {
      counts.clauseRequests++;
      return p.synthesize(request, signal, timing);
    },
    ...(open
      ? {
          openTextStream(request: Parameters<typeof open>[0], signal: AbortSignal) {
            counts.textStreams++;
            return open(request, signal);
          },
        }
      : {}),
  };
}

const KEY = 'bench-key';

/** Starts the fake behind `path` ('scripted' needs none) with its first audio byte after `firstByteMs`. */
export async function startTtsPath(path: Exclude<TtsPath, 'scripted'>, firstByteMs: number): Promise<TtsPathServer> {
  const counts: TtsCounts = { textStreams: 0, clauseRequests: 0 };
  if (path === 'elevenlabs-ws') {
    const fake = await startElevenLabsFake({ apiKey: KEY, firstByteMs });
    return {
      make: () => counted(resilientTts([new ElevenLabsTts({ apiKey: KEY, baseUrl: fake.url })]), counts),
      counts,
      close: () => fake.close(),
    };
  }
  const fake = await startDeepgramFake({ apiKey: KEY, firstByteMs });
  return {
    make: () =>
      counted(
        path === 'http'
          ? new DeepgramTts({ apiKey: KEY, baseUrl: fake.url, textStream: false })
          : resilientTts([new DeepgramTts({ apiKey: KEY, baseUrl: fake.url })]),
        counts,
      ),
    counts,
    close: () => fake.close(),
  };
}
