/**
 * Speaking-rate ranges as each service documents them (capabilities as data): ElevenLabs `voice_settings.speed`
 * 0.7-1.2 (outside it the HTTP API clamps and the WebSocket can return no audio), Deepgram Aura-2 `speed` 0.7-1.5,
 * OpenAI `speed` 0.25-4, the offline engines 0.5-2. Adapters clamp into their own range, so a fallback provider
 * never receives a value it refuses; the registry reports a clamp as a call incident.
 */
export interface SpeedRange {
  min: number;
  max: number;
}

export const TTS_SPEED: Readonly<Record<string, SpeedRange>> = Object.freeze({
  elevenlabs: { min: 0.7, max: 1.2 },
  deepgram: { min: 0.7, max: 1.5 },
  openai: { min: 0.25, max: 4 },
  offline: { min: 0.5, max: 2 },
});

/** undefined (provider default) for no speed or exactly 1. */
export function clampSpeed(speed: number | undefined, range: SpeedRange): number | undefined {
  if (speed === undefined || speed === 1) return undefined;
  return Math.min(range.max, Math.max(range.min, speed));
}
