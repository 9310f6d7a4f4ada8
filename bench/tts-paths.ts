/**
 * The TTS paths `bench latency --tts` and `--matrix` measure, each a real adapter (src/providers/tts) speaking its
 * real wire protocol to its loopback fake (bench/fakes), the fake's first byte after the profile's TTS latency:
 *  - scripted:       the in-process ScriptedTts (bench/scripted.ts), no network: the reference;
 *  - http:           Deepgram Aura over HTTP, one POST /v1/speak per clause (what the session does with any TTS);
 *  - aura-ws:        Deepgram Aura over the speak WebSocket (one socket per call; Speak + Flush per clause);
 *  - elevenlabs-ws:  ElevenLabs stream-input WebSocket (one socket per clause; text, then flush / close).
 * The session synthesizes clause by clause (src/call/speech.ts calls synthesize()): the WebSocket paths are driven
 * through the adapter's openTextStream() one clause at a time, which is how they would carry the session's clauses.
 */
import type { AudioChunk } from '../src/audio/format.js';
import { DeepgramTts } from '../src/providers/tts/deepgram.js';
import { ElevenLabsTts } from '../src/providers/tts/elevenlabs.js';
import type { Timing, TtsProvider, TtsRequest } from '../src/providers/types.js';
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
      make: () => clauseByClause(new ElevenLabsTts({ apiKey: KEY, baseUrl: fake.url, textStream: 'single' })),
      close: () => fake.close(),
    };
  }
  const fake = await startDeepgramFake({ apiKey: KEY, firstByteMs });
  return {
    make: () =>
      path === 'http'
        ? new DeepgramTts({ apiKey: KEY, baseUrl: fake.url, textStream: false })
        : clauseByClause(new DeepgramTts({ apiKey: KEY, baseUrl: fake.url })),
    close: () => fake.close(),
  };
}

/** A provider whose synthesize() sends each clause over the adapter's text stream (its WebSocket). */
function clauseByClause(p: TtsProvider): TtsProvider {
  const open = p.openTextStream?.bind(p);
  if (!open) throw new Error(`${p.id}: no text stream`);
  return {
    id: p.id,
    formats: p.formats,
    async *synthesize(request: TtsRequest, signal: AbortSignal, timing?: Timing): AsyncIterable<AudioChunk> {
      const { text, ...rest } = request;
      const s = open(rest, signal);
      if (timing) timing.requestSentAt = performance.now();
      try {
        s.pushText(text);
        s.end();
        for await (const c of s.audio) {
          if (timing) timing.firstByteAt ??= performance.now();
          yield c;
        }
      } finally {
        s.close();
      }
    },
  };
}
