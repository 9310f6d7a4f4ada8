import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { generateDtmf } from '../../src/audio/dtmf.js';
import { encodeWav } from '../../src/audio/wav.js';
import { main } from '../../src/cli/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CASES = join(ROOT, 'fixtures', 'dtmf', 'cases');
const tmp = mkdtempSync(join(tmpdir(), 'dtmf-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** PCM16 WAV with `channels` interleaved channels; channel 0 carries `pcm`, the others `other`. */
function pcmWav(pcm: Int16Array, rate: number, channels: number, other?: Int16Array): Buffer {
  const inter = new Int16Array(pcm.length * channels);
  for (let i = 0; i < pcm.length; i++) {
    for (let ch = 0; ch < channels; ch++) inter[i * channels + ch] = ch === 0 ? pcm[i]! : (other?.[i] ?? 0);
  }
  return Buffer.from(encodeWav(inter, rate, channels));
}

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

describe('voice-engine dtmf', () => {
  it('prints one JSON line per digit for a mu-law WAV', async () => {
    expect(await main(['dtmf', join(CASES, 'g711-mulaw-0dbm0.wav')])).toBe(0);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { digit: string; start_ms: number; end_ms: number });
    expect(lines.map((l) => l.digit).join('')).toBe('0123456789*#ABCD');
    // 200 ms lead-in, then 80 ms tone / 80 ms gap
    expect(Object.keys(lines[0]!)).toEqual(['digit', 'start_ms', 'end_ms']);
    lines.forEach((l, i) => {
      expect(Math.abs(l.start_ms - (200 + i * 160))).toBeLessThanOrEqual(6);
      expect(Math.abs(l.end_ms - (280 + i * 160))).toBeLessThanOrEqual(6);
    });
  });

  it('reads A-law and 44.1 kHz PCM16 files', async () => {
    for (const f of ['g711-alaw-30dbm0.wav', 'resampled-44k.wav']) {
      out = '';
      expect(await main(['dtmf', join(CASES, f)])).toBe(0);
      expect(out.trim().split('\n').length).toBe(16);
    }
  });

  it('takes the first channel of a stereo 16 kHz file', async () => {
    const left = generateDtmf('12', { sampleRate: 16000 });
    const right = generateDtmf('98', { sampleRate: 16000 });
    const file = join(tmp, 'stereo.wav');
    writeFileSync(file, pcmWav(left, 16000, 2, right));
    expect(await main(['dtmf', file])).toBe(0);
    expect(
      out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { digit: string }).digit),
    ).toEqual(['1', '2']);
  });

  it('prints nothing and exits 0 for a WAV without digits', async () => {
    expect(await main(['dtmf', join(CASES, 'talkoff-speech-06-fr-p60.wav')])).toBe(0);
    expect(out).toBe('');
  });

  it('gives a one-line error and a non-zero exit for bad input', async () => {
    const good = readFileSync(join(CASES, 'digits-all.wav'));
    const files: Record<string, Buffer> = {
      'truncated.wav': good.subarray(0, 1000),
      'header-only.wav': good.subarray(0, 30),
      'empty.wav': Buffer.alloc(0),
      'text.wav': Buffer.from('hello, not a wav file\n'),
      'no-samples.wav': pcmWav(new Int16Array(0), 8000, 1),
      'mp3-tag.wav': (() => {
        const b = pcmWav(new Int16Array(100), 8000, 1);
        b.writeUInt16LE(0x55, 20);
        return b;
      })(),
      'rate-7hz.wav': (() => {
        const b = pcmWav(new Int16Array(100), 8000, 1);
        b.writeUInt32LE(7, 24);
        return b;
      })(),
    };
    for (const [name, bytes] of Object.entries(files)) {
      const file = join(tmp, name);
      writeFileSync(file, bytes);
      err = '';
      out = '';
      const code = await main(['dtmf', file]);
      expect(code, name).not.toBe(0);
      expect(out, name).toBe('');
      expect(err.trim().split('\n').length, name).toBe(1);
      expect(err, name).toMatch(/^voice-engine dtmf: .*(truncated|empty|not a WAV|no audio|unsupported|format)/);
      expect(err, name).not.toMatch(/\n\s+at /);
    }
    err = '';
    expect(await main(['dtmf', join(tmp, 'missing.wav')])).not.toBe(0);
    expect(err).toMatch(/cannot read .*missing.wav: ENOENT/);
    err = '';
    expect(await main(['dtmf'])).toBe(2);
    expect(err).toMatch(/usage/);
  });

  it('runs as a process: digits on stdout, exit 0; a bad file gives exit 3 (input) and no stack trace', () => {
    vi.restoreAllMocks();
    const tsx = join(ROOT, 'node_modules', '.bin', 'tsx');
    const ok = spawnSync(tsx, ['src/cli/index.ts', 'dtmf', join(CASES, 'repeat-40ms.wav')], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(ok.status).toBe(0);
    expect(
      ok.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { digit: string }).digit)
        .join(''),
    ).toBe('11223399##');
    const bad = join(tmp, 'bad.wav');
    writeFileSync(bad, 'RIFF');
    const fail = spawnSync(tsx, ['src/cli/index.ts', 'dtmf', bad], { cwd: ROOT, encoding: 'utf8' });
    expect(fail.status).toBe(3);
    expect(fail.stdout).toBe('');
    expect(fail.stderr.trim()).toMatch(/^voice-engine dtmf: .*not a WAV file/);
  });
});
