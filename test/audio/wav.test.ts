import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alawDecode, alawEncode, mulawDecode, mulawEncode } from '../../src/audio/g711.js';
import { encodeWav, encodeWavG711, readWav, readWavFile, WavError, writeWavFile } from '../../src/audio/wav.js';

const run = promisify(execFile);
/** node-wav has no type declarations; this is the part of its API the tests use. */
const nodeWav = createRequire(import.meta.url)('node-wav') as {
  decode(buf: Uint8Array): { sampleRate: number; channelData: Float32Array[] };
  encode(channels: Float32Array[], opts: { sampleRate: number; bitDepth?: number; float?: boolean }): Uint8Array;
};

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'wav-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sine(n: number, rate: number, freq = 440, amp = 12000): Int16Array {
  return new Int16Array(n).map((_, i) => Math.round(amp * Math.sin((2 * Math.PI * freq * i) / rate)));
}

function expectWavError(fn: () => unknown, message: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(WavError);
  expect((caught as Error).message).toBe(message);
}

describe('WAV write/read round trips', () => {
  it('PCM16 mono', () => {
    const pcm = sine(800, 8000);
    const wav = encodeWav(pcm, 8000);
    expect(wav.length).toBe(44 + 1600);
    const r = readWav(wav);
    expect(r).toMatchObject({ sampleRate: 8000, channels: 1, encoding: 'pcm16', durationMs: 100 });
    expect(r.samples).toEqual(pcm);
    expect(r.data.length).toBe(1600);
  });

  it('PCM16 stereo: samples is the left channel, data stays interleaved', () => {
    const left = sine(160, 16000, 300);
    const right = sine(160, 16000, 1000);
    const inter = new Int16Array(320);
    for (let i = 0; i < 160; i++) {
      inter[2 * i] = left[i]!;
      inter[2 * i + 1] = right[i]!;
    }
    const r = readWav(encodeWav(inter, 16000, 2));
    expect(r.channels).toBe(2);
    expect(r.samples).toEqual(left);
    expect(r.durationMs).toBe(10);
    expect(new Int16Array(r.data.slice().buffer)).toEqual(inter);
  });

  it('mu-law and A-law WAV (tags 7 and 6, with fact chunk), odd length padded', () => {
    const pcm = sine(801, 8000);
    for (const [enc, encode, decode, tag] of [
      ['mulaw', mulawEncode, mulawDecode, 7],
      ['alaw', alawEncode, alawDecode, 6],
    ] as const) {
      const bytes = encode(pcm);
      const wav = encodeWavG711(bytes, enc);
      expect(wav.length % 2).toBe(0);
      const view = new DataView(wav.buffer);
      expect(view.getUint16(20, true)).toBe(tag);
      expect(String.fromCharCode(...wav.subarray(38, 42))).toBe('fact');
      expect(view.getUint32(46, true)).toBe(801);
      const r = readWav(wav);
      expect(r).toMatchObject({ sampleRate: 8000, channels: 1, encoding: enc });
      expect(r.data).toEqual(bytes);
      expect(r.samples).toEqual(decode(bytes));
      expect(r.durationMs).toBeCloseTo(100.125, 6);
    }
  });

  it('writeWavFile / readWavFile', async () => {
    const file = path.join(dir, 'w.wav');
    const pcm = sine(1600, 16000);
    await writeWavFile(file, pcm, 16000);
    const r = await readWavFile(file);
    expect(r.samples).toEqual(pcm);
    expect(r.sampleRate).toBe(16000);
  });
});

describe('WAV interoperability', () => {
  it('ffmpeg reads our mu-law and A-law WAVs as G.711 and decodes the same samples', async () => {
    const pcm = sine(1000, 8000, 700);
    for (const [enc, encode, decode] of [
      ['mulaw', mulawEncode, mulawDecode],
      ['alaw', alawEncode, alawDecode],
    ] as const) {
      const file = path.join(dir, `ours-${enc}.wav`);
      const bytes = encode(pcm);
      await writeFile(file, encodeWavG711(bytes, enc));
      const probe = await run('ffprobe', [
        '-v',
        'error',
        '-show_entries',
        'stream=codec_name,sample_rate',
        '-of',
        'csv=p=0',
        file,
      ]);
      expect(probe.stdout.trim()).toBe(`pcm_${enc},8000`);
      const raw = path.join(dir, `ours-${enc}.s16`);
      await run('ffmpeg', ['-v', 'error', '-y', '-i', file, '-f', 's16le', raw]);
      const back = new Uint8Array(await readFile(raw));
      expect(new Int16Array(back.buffer, back.byteOffset, back.length / 2)).toEqual(decode(bytes));
    }
  });

  it('reads what ffmpeg writes: LIST chunks, extensible format, 8/24/32-bit, float, G.711, piped (unknown sizes)', async () => {
    const pcm = sine(800, 8000, 440);
    const src = path.join(dir, 'src.wav');
    await writeFile(src, encodeWav(pcm, 8000));
    const cases: [string, string, number][] = [
      ['pcm_s16le', 'pcm16', 0],
      ['pcm_u8', 'pcm8', 256],
      ['pcm_s24le', 'pcm24', 0],
      ['pcm_s32le', 'pcm32', 0],
      ['pcm_f32le', 'float32', 1],
      ['pcm_mulaw', 'mulaw', -1],
      ['pcm_alaw', 'alaw', -1],
    ];
    for (const [codec, encoding, tolerance] of cases) {
      const out = path.join(dir, `${codec}.wav`);
      await run('ffmpeg', ['-v', 'error', '-y', '-i', src, '-c:a', codec, out]);
      const r = readWav(new Uint8Array(await readFile(out)));
      expect(r.encoding).toBe(encoding);
      expect(r.sampleRate).toBe(8000);
      expect(r.samples.length).toBe(800);
      if (tolerance < 0) {
        // G.711: decoded samples are within one quantization step (<= 1/16 of the value + 16) of the source.
        for (let i = 0; i < 800; i++)
          expect(Math.abs(r.samples[i]! - pcm[i]!)).toBeLessThanOrEqual(Math.abs(pcm[i]!) / 16 + 16);
      } else {
        for (let i = 0; i < 800; i++) expect(Math.abs(r.samples[i]! - pcm[i]!)).toBeLessThanOrEqual(tolerance);
      }
    }
    // Written to a pipe, ffmpeg cannot seek back and leaves the sizes at 0xffffffff.
    const piped = await run('ffmpeg', ['-v', 'error', '-i', src, '-f', 'wav', '-c:a', 'pcm_s16le', '-'], {
      encoding: 'buffer',
    });
    const r = readWav(new Uint8Array(piped.stdout));
    expect(r.samples).toEqual(pcm);
  });

  it('agrees with node-wav in both directions', () => {
    const pcm = sine(500, 16000, 1234, 30000);
    const theirs = nodeWav.decode(encodeWav(pcm, 16000));
    expect(theirs.sampleRate).toBe(16000);
    for (let i = 0; i < 500; i++) expect(Math.abs(theirs.channelData[0]![i]! * 32768 - pcm[i]!)).toBeLessThanOrEqual(1);
    const floats = Float32Array.from(pcm, (s) => s / 32768);
    const r = readWav(nodeWav.encode([floats, floats], { sampleRate: 16000, bitDepth: 16 }));
    expect(r.channels).toBe(2);
    for (let i = 0; i < 500; i++) expect(Math.abs(r.samples[i]! - pcm[i]!)).toBeLessThanOrEqual(1);
  });

  it('walks odd-sized chunks (pad byte) and fmt after data', () => {
    const pcm = new Int16Array([1, -2, 3, -4]);
    const junk = new Uint8Array([...'junk'].map((c) => c.charCodeAt(0)).concat([3, 0, 0, 0, 9, 9, 9, 0]));
    const base = encodeWav(pcm, 8000);
    const fmt = base.subarray(12, 36);
    const data = base.subarray(36);
    const file = new Uint8Array(12 + junk.length + data.length + fmt.length);
    file.set(base.subarray(0, 12));
    file.set(junk, 12);
    file.set(data, 12 + junk.length);
    file.set(fmt, 12 + junk.length + data.length);
    new DataView(file.buffer).setUint32(4, file.length - 8, true);
    const r = readWav(file);
    expect(Array.from(r.samples)).toEqual([1, -2, 3, -4]);
  });
});

describe('bad WAV input -> WavError with an exact message', () => {
  it('empty, non-WAV, non-WAVE RIFF', () => {
    expectWavError(() => readWav(new Uint8Array(0)), 'empty file');
    expectWavError(
      () => readWav(new TextEncoder().encode('ID3 this is an mp3, honest')),
      'not a WAV file (no RIFF header)',
    );
    expectWavError(() => readWav(new TextEncoder().encode('RIFF')), 'not a WAV file (no RIFF header)');
    const avi = new TextEncoder().encode('RIFF\x04\x00\x00\x00AVI ');
    expectWavError(() => readWav(avi), "not a WAV file (RIFF form type 'AVI ', expected 'WAVE')");
    expectWavError(
      () => readWav(new TextEncoder().encode('RF64\xff\xff\xff\xffWAVE')),
      '64-bit WAV (RF64) is not supported',
    );
    expectWavError(
      () => readWav(new TextEncoder().encode('RIFX\x00\x00\x00\x04WAVE')),
      'big-endian WAV (RIFX) is not supported',
    );
  });

  it('truncated data chunk', () => {
    const wav = encodeWav(new Int16Array(100), 8000);
    expectWavError(() => readWav(wav.subarray(0, 44 + 150)), 'truncated: data chunk declares 200 bytes, 150 present');
  });

  it('missing chunks, unsupported formats, nonsense fields', () => {
    const wav = encodeWav(new Int16Array(10), 8000);
    expectWavError(() => readWav(wav.subarray(0, 36)), 'no data chunk');
    const noFmt = wav.slice();
    noFmt.set(
      [...'xxxx'].map((c) => c.charCodeAt(0)),
      12,
    );
    expectWavError(() => readWav(noFmt), 'no fmt chunk (not a valid WAV file)');
    const mp3 = wav.slice();
    new DataView(mp3.buffer).setUint16(20, 0x55, true);
    expectWavError(() => readWav(mp3), 'unsupported WAV format tag 0x0055');
    const bits12 = wav.slice();
    new DataView(bits12.buffer).setUint16(34, 12, true);
    expectWavError(() => readWav(bits12), 'unsupported PCM bit depth: 12');
    const noChannels = wav.slice();
    new DataView(noChannels.buffer).setUint16(22, 0, true);
    expectWavError(() => readWav(noChannels), 'fmt chunk declares 0 channels');
    const shortFmt = wav.slice();
    new DataView(shortFmt.buffer).setUint32(16, 8, true);
    expect(() => readWav(shortFmt)).toThrow(WavError);
  });

  it('every truncation of a valid file either parses or throws WavError, never anything else', () => {
    const wav = encodeWavG711(mulawEncode(sine(64, 8000)), 'mulaw');
    for (let n = 0; n <= wav.length; n++) {
      try {
        readWav(wav.subarray(0, n));
      } catch (err) {
        expect(err).toBeInstanceOf(WavError);
      }
    }
  });

  it('readWavFile names the file; a missing file is a WavError too', async () => {
    const file = path.join(dir, 'cut.wav');
    await writeFile(file, encodeWav(new Int16Array(100), 8000).subarray(0, 100));
    await expect(readWavFile(file)).rejects.toThrow(`${file}: truncated: data chunk declares 200 bytes, 56 present`);
    await expect(readWavFile(path.join(dir, 'nope.wav'))).rejects.toBeInstanceOf(WavError);
    await expect(readWavFile(path.join(dir, 'nope.wav'))).rejects.toThrow(/cannot read .*nope\.wav: ENOENT/);
  });

  it('refuses to write nonsense', () => {
    expect(() => encodeWav(new Int16Array(3), 8000, 2)).toThrow(/not a whole number of 2-channel frames/);
    expect(() => encodeWav(new Int16Array(2), 0)).toThrow(RangeError);
  });
});
