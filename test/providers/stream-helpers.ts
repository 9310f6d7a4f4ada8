/** Shared by the provider tests: drain an audio stream, wait for a condition (no timing assertions). */
import type { AudioChunk } from '../../src/audio/format.js';

export const signal = (): AbortSignal => new AbortController().signal;

export async function drain(it: AsyncIterable<AudioChunk>): Promise<AudioChunk[]> {
  const out: AudioChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

export function until(pred: () => boolean, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = () => {
      if (pred()) return resolve();
      if (Date.now() - start > timeoutMs) return reject(new Error('condition not met'));
      setTimeout(tick, 10);
    };
    tick();
  });
}
