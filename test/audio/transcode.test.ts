import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulawDecode, mulawEncode } from '../../src/audio/g711.js';
import { decodeFileToPcm, ffmpegPath, TranscodeError, transcodeToWav } from '../../src/audio/transcode.js';
import { encodeWav, readWavFile } from '../../src/audio/wav.js';

const run = promisify(execFile);
let dir = '';
const RATE = 16000;
const FREQ = 440;

/** Amplitude of the `freq` component over x[from .. from + rate) (one second, whole periods). */
function amplitudeAt(x: Int16Array, freq: number, rate: number, from: number): number {
  let s = 0;
  let c = 0;
  for (let i = from; i < from + rate; i++) {
    const w = (2 * Math.PI * freq * i) / rate;
    s += x[i]! * Math.sin(w);
    c += x[i]! * Math.cos(w);
  }
  return (2 / rate) * Math.hypot(s, c);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'transcode-'));
  // 2 s of a 440 Hz tone at amplitude 10000, then compressed with the system ffmpeg (a different binary from the
  // one the module uses, so the test does not grade ffmpeg against itself).
  const pcm = new Int16Array(RATE * 2).map((_, i) => Math.round(10000 * Math.sin((2 * Math.PI * FREQ * i) / RATE)));
  await writeFile(path.join(dir, 'tone.wav'), encodeWav(pcm, RATE));
  const src = path.join(dir, 'tone.wav');
  await run('/usr/bin/ffmpeg', [
    '-v',
    'error',
    '-y',
    '-i',
    src,
    '-c:a',
    'libmp3lame',
    '-b:a',
    '64k',
    path.join(dir, 'tone.mp3'),
  ]);
  await run('/usr/bin/ffmpeg', [
    '-v',
    'error',
    '-y',
    '-i',
    src,
    '-c:a',
    'libvorbis',
    '-q:a',
    '4',
    path.join(dir, 'tone.ogg'),
  ]);
  await run('/usr/bin/ffmpeg', [
    '-v',
    'error',
    '-y',
    '-i',
    src,
    '-c:a',
    'aac',
    '-b:a',
    '64k',
    path.join(dir, 'tone.m4a'),
  ]);
  await writeFile(path.join(dir, 'garbage.mp3'), new TextEncoder().encode('this is not audio at all'.repeat(50)));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('transcode', () => {
  it('uses the ffmpeg installed with the project', async () => {
    expect(await ffmpegPath()).toMatch(/@ffmpeg-installer|\/usr\/bin\/ffmpeg/);
  });

  it.each(['mp3', 'ogg', 'm4a'])('decodes %s back to the tone (PCM at 8 kHz)', async (ext) => {
    const pcm = await decodeFileToPcm(path.join(dir, `tone.${ext}`), 8000);
    // Codec padding may add a few ms; the length is 2 s give or take 100 ms.
    expect(Math.abs(pcm.length - 16000)).toBeLessThan(800);
    const amp = amplitudeAt(pcm, FREQ, 8000, 4000);
    expect(amp).toBeGreaterThan(9000);
    expect(amp).toBeLessThan(11000);
  });

  it('transcodes mp3 -> mu-law 8 kHz WAV coded with our G.711', async () => {
    const out = path.join(dir, 'tone-mulaw.wav');
    await transcodeToWav(path.join(dir, 'tone.mp3'), out, { sampleRate: 8000, channels: 1, encoding: 'mulaw' });
    const wav = await readWavFile(out);
    expect(wav).toMatchObject({ sampleRate: 8000, channels: 1, encoding: 'mulaw' });
    expect(Math.abs(wav.samples.length - 16000)).toBeLessThan(800);
    // The codes are exactly our encoder applied to ffmpeg's PCM decode of the same file.
    const pcm = await decodeFileToPcm(path.join(dir, 'tone.mp3'), 8000);
    expect(new Uint8Array(wav.data)).toEqual(mulawEncode(pcm));
    expect(wav.samples).toEqual(mulawDecode(wav.data));
  });

  it('transcodes ogg -> pcm16 16 kHz and a-law WAVs', async () => {
    const pcmOut = path.join(dir, 'tone-16k.wav');
    await transcodeToWav(path.join(dir, 'tone.ogg'), pcmOut, { sampleRate: 16000, channels: 1, encoding: 'pcm16' });
    const wav = await readWavFile(pcmOut);
    expect(wav).toMatchObject({ sampleRate: 16000, encoding: 'pcm16' });
    expect(amplitudeAt(wav.samples, FREQ, 16000, 8000)).toBeGreaterThan(9000);
    const alawOut = path.join(dir, 'tone-alaw.wav');
    await transcodeToWav(path.join(dir, 'tone.ogg'), alawOut, { sampleRate: 8000, channels: 1, encoding: 'alaw' });
    expect((await readWavFile(alawOut)).encoding).toBe('alaw');
  });

  it('a missing or non-audio file rejects with a TranscodeError naming the file', async () => {
    const missing = path.join(dir, 'missing.mp3');
    await expect(decodeFileToPcm(missing, 8000)).rejects.toBeInstanceOf(TranscodeError);
    await expect(decodeFileToPcm(missing, 8000)).rejects.toThrow(
      /cannot decode .*missing\.mp3: .*No such file or directory/,
    );
    const garbage = path.join(dir, 'garbage.mp3');
    await expect(
      transcodeToWav(garbage, path.join(dir, 'x.wav'), { sampleRate: 8000, channels: 1, encoding: 'pcm16' }),
    ).rejects.toThrow(/cannot decode .*garbage\.mp3: /);
  });
});
