/**
 * HTTP audio bodies -> AudioChunks. Network reads split PCM16 at odd byte offsets; a sample must never be split
 * across chunks, so an odd trailing byte is carried into the next chunk. Marks first byte / done on `timing`.
 */
import type { AudioChunk, AudioFormat } from '../../audio/format.js';
import type { Timing } from '../types.js';

export async function* audioChunks(
  body: AsyncIterable<Uint8Array>,
  format: AudioFormat,
  timing: Timing,
): AsyncGenerator<AudioChunk> {
  const align = format.encoding === 'pcm16' ? 2 : 1;
  let carry: number | undefined;
  for await (const piece of body) {
    if (piece.length === 0) continue;
    timing.firstByteAt ??= performance.now();
    let data = piece;
    if (carry !== undefined) {
      data = new Uint8Array(piece.length + 1);
      data[0] = carry;
      data.set(piece, 1);
      carry = undefined;
    }
    if (align === 2 && data.length % 2 === 1) {
      carry = data[data.length - 1];
      data = data.subarray(0, data.length - 1);
    }
    if (data.length) yield { format, data };
  }
  timing.doneAt = performance.now();
}
