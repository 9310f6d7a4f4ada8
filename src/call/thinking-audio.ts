import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AudioChunk, type AudioFormat, formatName } from '../audio/format.js';
import { alawEncode, mulawEncode } from '../audio/g711.js';
import { resample } from '../audio/resample.js';
import { readWav } from '../audio/wav.js';

/**
 * Thinking audio (settings.thinkingAudio): what the caller hears when the answer is slower than
 * settings.fillerAfterMs, from the committed files in media/ (media.json describes them): a spoken filler phrase
 * (they take turns), a soft thinking sound, or hold music. The audio is queued on the leg as the reply's prelude and
 * cut the moment the answer's first audio goes out (Utterance.prelude). Each file is read and converted to a call's
 * outbound format once per process, off the per-frame path.
 */
export type ThinkingKind = 'filler' | 'sound' | 'music';

const FILES: Record<ThinkingKind, readonly string[]> = {
  filler: ['filler-one-moment.wav', 'filler-let-me-check.wav'],
  sound: ['thinking.wav'],
  music: ['hold-music.wav'],
};

/** Loops are queued up to this long (a clear drops what is not heard). */
const LOOP_MS: Record<ThinkingKind, number> = { filler: 0, sound: 20_000, music: 30_000 };

const cache = new Map<string, Promise<AudioChunk>>();
let dir: string | undefined;

/** media/ at the package root, from src/call (tsx) or dist/src/call (built). */
function mediaDir(): string {
  if (dir) return dir;
  let d = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(d, 'media', 'media.json'))) {
      dir = path.join(d, 'media');
      return dir;
    }
    d = path.dirname(d);
  }
  throw new Error('media/ not found');
}

async function load(file: string, format: AudioFormat): Promise<AudioChunk> {
  const wav = readWav(await readFile(path.join(mediaDir(), file)));
  const pcm =
    wav.sampleRate === format.sampleRate ? wav.samples : resample(wav.samples, wav.sampleRate, format.sampleRate);
  const data =
    format.encoding === 'mulaw'
      ? mulawEncode(pcm)
      : format.encoding === 'alaw'
        ? alawEncode(pcm)
        : new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  return { format, data };
}

/** The audio of `kind` in `format`; `n` picks among the filler phrases (one per reply, in turn). */
export async function thinkingAudio(kind: ThinkingKind, format: AudioFormat, n: number): Promise<AudioChunk[]> {
  const files = FILES[kind];
  const file = files[n % files.length]!;
  const key = `${file}\u0000${formatName(format)}`;
  let p = cache.get(key);
  if (!p) {
    p = load(file, format);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  const chunk = await p;
  const ms = (chunk.data.byteLength / (format.encoding === 'pcm16' ? 2 : 1) / format.sampleRate) * 1000;
  const times = Math.max(1, Math.floor(LOOP_MS[kind] / ms));
  return Array.from({ length: times }, () => chunk);
}
