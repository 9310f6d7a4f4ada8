import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { G722_SILENCE, G722Decoder, G722Encoder } from '../../src/audio/g722.js';
import { ffmpegPath } from '../../src/audio/transcode.js';

/**
 * G.722 against an implementation nobody here wrote: ffmpeg's adpcm_g722 encoder and decoder, on a real human
 * recording (Asterisk core sounds) resampled to 16 kHz. Both directions must match it byte for byte and sample for
 * sample; the round trip must keep the speech (SNR), and the silence byte must decode to silence.
 */
const run = promisify(execFile);
const SPEECH = '/usr/share/asterisk/sounds/en/tt-weasels.wav';

let dir: string;
let ffmpeg: string;
let pcm: Int16Array;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 've-g722-'));
  ffmpeg = await ffmpegPath();
  const raw = path.join(dir, 'in.raw');
  await run(ffmpeg, ['-v', 'error', '-y', '-i', SPEECH, '-ar', '16000', '-ac', '1', '-f', 's16le', raw]);
  const b = await readFile(raw);
  pcm = new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + (b.byteLength & ~3)));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const asInt16 = (b: Buffer) => new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + (b.byteLength & ~1)));

describe('G.722 (64 kbit/s)', () => {
  it('encodes real speech byte for byte like ffmpeg, in 20 ms frames with the state carried across', async () => {
    await run(ffmpeg, [
      '-v', 'error', '-y', '-f', 's16le', '-ar', '16000', '-ac', '1', '-i', path.join(dir, 'in.raw'),
      '-c:a', 'g722', '-f', 'g722', path.join(dir, 'ff.g722'),
    ]); // biome-ignore format: argv
    const theirs = new Uint8Array(await readFile(path.join(dir, 'ff.g722')));
    const enc = new G722Encoder();
    const ours = new Uint8Array(pcm.length / 2);
    for (let i = 0; i < pcm.length; i += 320) enc.encode(pcm.subarray(i, i + 320), ours.subarray(i / 2, i / 2 + 160));
    expect(theirs.length).toBe(ours.length);
    expect(Buffer.from(ours).equals(Buffer.from(theirs))).toBe(true);
  });

  it('decodes sample for sample like ffmpeg, and the round trip keeps the speech (SNR > 30 dB)', async () => {
    const enc = new G722Encoder();
    const coded = enc.encode(pcm, new Uint8Array(pcm.length / 2));
    await writeFile(path.join(dir, 'ours.g722'), coded);
    await run(ffmpeg, [
      '-v', 'error', '-y', '-f', 'g722', '-i', path.join(dir, 'ours.g722'), '-f', 's16le', path.join(dir, 'ff.raw'),
    ]); // biome-ignore format: argv
    const theirs = asInt16(await readFile(path.join(dir, 'ff.raw')));
    const dec = new G722Decoder();
    const ours = new Int16Array(coded.length * 2);
    for (let i = 0; i < coded.length; i += 160)
      dec.decode(coded.subarray(i, i + 160), ours.subarray(2 * i, 2 * i + 320));
    expect(theirs.length).toBe(ours.length);
    let diff = 0;
    for (let i = 0; i < ours.length; i++) if (ours[i] !== theirs[i]) diff++;
    expect(diff).toBe(0);
    // The codec's delay is 22 samples (both QMFs); SNR at that alignment.
    let signal = 0;
    let noise = 0;
    for (let i = 0; i + 22 < ours.length; i++) {
      signal += pcm[i]! * pcm[i]!;
      noise += (pcm[i]! - ours[i + 22]!) ** 2;
    }
    expect(10 * Math.log10(signal / noise)).toBeGreaterThan(30);
  });

  it('the silence byte decodes to silence: exact 0 from a fresh decoder, below -50 dBFS within 200 ms after speech', () => {
    const out = new Int16Array(320);
    const silence = new Uint8Array(160).fill(G722_SILENCE);
    const fresh = new G722Decoder();
    fresh.decode(silence, out);
    expect(Math.max(...out.map(Math.abs))).toBe(0);
    const dec = new G722Decoder();
    dec.decode(new G722Encoder().encode(pcm.subarray(0, 16000), new Uint8Array(8000)), new Int16Array(16000));
    for (let f = 0; f < 10; f++) dec.decode(silence, out);
    expect(Math.max(...out.map(Math.abs))).toBeLessThan(104); // 20 * log10(104 / 32768) = -50 dBFS
  });

  it('refuses an output buffer too small', () => {
    expect(() => new G722Encoder().encode(new Int16Array(320), new Uint8Array(10))).toThrow(RangeError);
    expect(() => new G722Decoder().decode(new Uint8Array(160), new Int16Array(10))).toThrow(RangeError);
  });
});
