import type { AudioChunk, AudioFormat } from '../audio/format.js';
import { formatName } from '../audio/format.js';

/**
 * Fast greeting (issue 6, deliverable 11): the first message's audio is cached per assistant + TTS voice + output
 * format + text, so a repeat caller hears it as soon as the start message is handled instead of after a TTS round
 * trip. A first message with {{variables}} is personal: it is filled per call and never cached. Bounded LRU.
 */
const MAX_ENTRIES = 256;
/** Cap per entry: 60 s of 16-bit 24 kHz audio. */
const MAX_ENTRY_BYTES = 60 * 24_000 * 2;

const cache = new Map<string, AudioChunk[]>();

export function greetingKey(
  assistantId: string,
  ttsId: string,
  voice: string | undefined,
  format: AudioFormat,
  text: string,
): string {
  return `${assistantId}\u0000${ttsId}\u0000${voice ?? ''}\u0000${formatName(format)}\u0000${text}`;
}

export function getGreeting(key: string): AudioChunk[] | undefined {
  const v = cache.get(key);
  if (v) {
    // LRU: move to the back.
    cache.delete(key);
    cache.set(key, v);
  }
  return v;
}

export function putGreeting(key: string, audio: AudioChunk[]): void {
  let bytes = 0;
  for (const c of audio) bytes += c.data.byteLength;
  if (bytes === 0 || bytes > MAX_ENTRY_BYTES) return;
  // Copy: chunks may be views into provider buffers.
  const copy = audio.map((c) => ({ format: c.format, data: Uint8Array.from(c.data) }));
  cache.set(key, copy);
  while (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
}

export function clearGreetingCache(): void {
  cache.clear();
}

export function hasVariables(text: string): boolean {
  return /\{\{\s*[a-zA-Z0-9_.-]+\s*\}\}/.test(text);
}

/** The variables of a call for {{name}}: custom parameters, from / caller, to, callId, then the call metadata. */
export function callVariables(
  info: { customParameters?: Record<string, string>; from?: string; to?: string; callId: string },
  extra?: Record<string, string>,
): Record<string, string> {
  return {
    ...info.customParameters,
    ...(info.from ? { from: info.from, caller: info.from } : {}),
    ...(info.to ? { to: info.to } : {}),
    callId: info.callId,
    ...extra,
  };
}

/** Fill {{name}} from the call's variables; unknown names become empty (never read aloud as braces). */
export function fillVariables(text: string, vars: Readonly<Record<string, string | undefined>>): string {
  return text
    .replace(/\{\{\s*([a-zA-Z0-9_.-]+)\s*\}\}/g, (_m, name: string) => vars[name] ?? '')
    .replace(/\s+/g, ' ')
    .replace(/ ([,.!?;:])/g, '$1')
    .trim();
}

/**
 * Fill the cache ahead of the first call (engine start, assistant saved): synthesizes the first message in each
 * wire format given, unless it is personal ({{variables}}). Failures are returned, not thrown.
 */
export async function warmGreeting(
  assistant: { id: string; config: { firstMessage?: string; tts?: { voice?: string } } },
  tts: {
    id: string;
    synthesize(r: { text: string; voice?: string; format: AudioFormat }, s: AbortSignal): AsyncIterable<AudioChunk>;
  },
  formats: readonly AudioFormat[],
): Promise<{ cached: number; error?: string }> {
  const text = assistant.config.firstMessage?.trim();
  if (!text || hasVariables(text)) return { cached: 0 };
  let cached = 0;
  try {
    for (const format of formats) {
      const key = greetingKey(assistant.id, tts.id, assistant.config.tts?.voice, format, text);
      if (cache.has(key)) continue;
      const audio: AudioChunk[] = [];
      for await (const c of tts.synthesize(
        { text, voice: assistant.config.tts?.voice, format },
        AbortSignal.timeout(30_000),
      ))
        audio.push(c);
      putGreeting(key, audio);
      cached++;
    }
    return { cached };
  } catch (err) {
    return { cached, error: (err as Error).message };
  }
}
