import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alawDecode,
  alawEncode,
  alawToLinear,
  linearToAlaw,
  linearToMulaw,
  mulawDecode,
  mulawEncode,
  mulawToLinear,
} from '../../src/audio/g711.js';

const run = promisify(execFile);
let dir = '';
/** Every PCM16 value, -32768 .. 32767, little-endian. */
const ALL_PCM = new Int16Array(65536).map((_, i) => i - 32768);
const ALL_CODES = new Uint8Array(256).map((_, i) => i);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'g711-'));
  await writeFile(path.join(dir, 'all.s16'), new Uint8Array(ALL_PCM.buffer));
  await writeFile(path.join(dir, 'codes.raw'), ALL_CODES);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function soxEncode(law: 'u-law' | 'a-law'): Promise<Uint8Array> {
  const out = path.join(dir, `sox.${law}`);
  // -D: no dither, so sox applies the plain G.711 quantizer.
  await run('sox', [
    '-D',
    '-t',
    'raw',
    '-r',
    '8000',
    '-e',
    'signed',
    '-b',
    '16',
    '-c',
    '1',
    path.join(dir, 'all.s16'),
    '-t',
    'raw',
    '-e',
    law,
    out,
  ]);
  return new Uint8Array(await readFile(out));
}

async function ffmpeg(args: string[], out: string): Promise<Uint8Array> {
  await run('ffmpeg', ['-v', 'error', '-y', ...args, path.join(dir, out)]);
  return new Uint8Array(await readFile(path.join(dir, out)));
}

function firstMismatch(a: ArrayLike<number>, b: ArrayLike<number>): string | null {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `at ${i}: ${a[i]} vs ${b[i]}`;
  return null;
}

describe('G.711 against sox (all 65536 PCM16 inputs)', () => {
  it('mu-law encode is bit-exact', async () => {
    const ref = await soxEncode('u-law');
    expect(firstMismatch(mulawEncode(ALL_PCM), ref)).toBeNull();
  });
  it('A-law encode is bit-exact', async () => {
    const ref = await soxEncode('a-law');
    expect(firstMismatch(alawEncode(ALL_PCM), ref)).toBeNull();
  });
});

describe('G.711 decode against ffmpeg and sox (all 256 codes)', () => {
  for (const [law, ffFmt, soxEnc, decode] of [
    ['mu-law', 'mulaw', 'u-law', mulawDecode],
    ['A-law', 'alaw', 'a-law', alawDecode],
  ] as const) {
    it(`${law} decode matches ffmpeg`, async () => {
      const bytes = await ffmpeg(
        ['-f', ffFmt, '-ar', '8000', '-ac', '1', '-i', path.join(dir, 'codes.raw'), '-f', 's16le'],
        `${ffFmt}.s16`,
      );
      const ref = new Int16Array(bytes.buffer, bytes.byteOffset, 256);
      expect(firstMismatch(decode(ALL_CODES), ref)).toBeNull();
    });
    it(`${law} decode matches sox`, async () => {
      const out = path.join(dir, `sox-dec-${ffFmt}.s16`);
      await run('sox', [
        '-D',
        '-t',
        'raw',
        '-r',
        '8000',
        '-e',
        soxEnc,
        '-b',
        '8',
        '-c',
        '1',
        path.join(dir, 'codes.raw'),
        '-t',
        'raw',
        '-e',
        'signed',
        '-b',
        '16',
        out,
      ]);
      const bytes = new Uint8Array(await readFile(out));
      expect(firstMismatch(decode(ALL_CODES), new Int16Array(bytes.buffer, bytes.byteOffset, 256))).toBeNull();
    });
  }

  it("ffmpeg's encoder differs only by one adjacent code, at segment boundaries", async () => {
    // ffmpeg picks the nearest reconstruction level; G.711's decision levels at a segment boundary are not midpoints.
    for (const [fmt, encode, decode] of [
      ['mulaw', mulawEncode, mulawToLinear],
      ['alaw', alawEncode, alawToLinear],
    ] as const) {
      const ref = await ffmpeg(
        ['-f', 's16le', '-ar', '8000', '-ac', '1', '-i', path.join(dir, 'all.s16'), '-f', fmt],
        `ff.${fmt}`,
      );
      const mine = encode(ALL_PCM);
      let diffs = 0;
      for (let i = 0; i < 65536; i++) {
        if (mine[i] === ref[i]) continue;
        diffs++;
        const a = decode(mine[i]!);
        const b = decode(ref[i]!);
        // Adjacent codes: both reconstruction levels are on the same side of the input, one step apart.
        const x = ALL_PCM[i]!;
        expect(Math.sign(a) === Math.sign(b) || Math.abs(x) < 16).toBe(true);
        expect(Math.abs(Math.abs(a) - Math.abs(b))).toBeLessThanOrEqual(Math.max(Math.abs(a), Math.abs(b)) / 16 + 16);
      }
      expect(diffs).toBeLessThan(65536 / 32);
    }
  });
});

describe('G.711 known vectors', () => {
  it('mu-law', () => {
    expect(linearToMulaw(0)).toBe(0xff);
    expect(linearToMulaw(-1)).toBe(0xff); // rounds to 14-bit 0
    expect(linearToMulaw(-3)).toBe(0x7e); // rounds to 14-bit -1: first negative step
    expect(linearToMulaw(32767)).toBe(0x80);
    expect(linearToMulaw(-32768)).toBe(0x00);
    expect(mulawToLinear(0xff)).toBe(0);
    expect(mulawToLinear(0x7f)).toBe(0);
    expect(mulawToLinear(0x80)).toBe(32124);
    expect(mulawToLinear(0x00)).toBe(-32124);
    expect(mulawToLinear(0xfe)).toBe(8);
    expect(mulawToLinear(0xef)).toBe(132); // segment 1, step 0: ((0 << 3) + 132) << 1, minus the bias 132
  });
  it('A-law', () => {
    expect(linearToAlaw(0)).toBe(0xd5);
    expect(linearToAlaw(-8)).toBe(0x55);
    expect(linearToAlaw(32767)).toBe(0xaa);
    expect(linearToAlaw(-32768)).toBe(0x2a);
    expect(alawToLinear(0xd5)).toBe(8);
    expect(alawToLinear(0x55)).toBe(-8);
    expect(alawToLinear(0xaa)).toBe(32256);
    expect(alawToLinear(0x2a)).toBe(-32256);
  });
  it('decode(encode(decode(c))) === decode(c) for every code (idempotent requantization)', () => {
    const mu = mulawDecode(ALL_CODES);
    expect(firstMismatch(mulawDecode(mulawEncode(mu)), mu)).toBeNull();
    const a = alawDecode(ALL_CODES);
    expect(firstMismatch(alawDecode(alawEncode(a)), a)).toBeNull();
  });
  it('scalar and array forms agree', () => {
    const mu = mulawEncode(ALL_PCM);
    const a = alawEncode(ALL_PCM);
    for (let i = 0; i < 65536; i += 7) {
      expect(mu[i]).toBe(linearToMulaw(ALL_PCM[i]!));
      expect(a[i]).toBe(linearToAlaw(ALL_PCM[i]!));
    }
  });
});

describe('G.711 caller-provided buffers', () => {
  it('writes into dst and returns a view of the source length', () => {
    const dst = new Int16Array(320);
    const out = mulawDecode(new Uint8Array([0xff, 0x80, 0x00]), dst);
    expect(out.length).toBe(3);
    expect(out.buffer).toBe(dst.buffer);
    expect(Array.from(dst.subarray(0, 3))).toEqual([0, 32124, -32124]);
    const bytes = new Uint8Array(160);
    const enc = alawEncode(new Int16Array([0, -8]), bytes);
    expect(enc.buffer).toBe(bytes.buffer);
    expect(Array.from(enc)).toEqual([0xd5, 0x55]);
  });
  it('returns dst itself when it has exactly the right length', () => {
    const dst = new Uint8Array(2);
    expect(mulawEncode(new Int16Array([1, 2]), dst)).toBe(dst);
  });
  it('rejects a dst that is too small with a RangeError', () => {
    expect(() => mulawDecode(new Uint8Array(10), new Int16Array(5))).toThrow(RangeError);
    expect(() => alawEncode(new Int16Array(10), new Uint8Array(5))).toThrow(/dst holds 5 bytes, need 10/);
  });
});
