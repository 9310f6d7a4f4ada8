import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ElevenLabsFake, startElevenLabsFake } from '../../bench/fakes/elevenlabs.js';
import { readWavFile } from '../../src/audio/wav.js';
import { CliError, EXIT } from '../../src/cli/args.js';
import { run as dtmf } from '../../src/cli/dtmf.js';
import { run as transcribe } from '../../src/cli/transcribe.js';
import { run as tts } from '../../src/cli/tts.js';

const has = (bin: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`]);
    return true;
  } catch {
    return false;
  }
};

/** Runs a command in-process and returns what it printed on stdout. */
async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    return { code: await fn(), out };
  } finally {
    spy.mockRestore();
  }
}

describe('voice-engine tts / transcribe', () => {
  let dir: string;
  let fake: ElevenLabsFake;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 've-cli-'));
    fake = await startElevenLabsFake();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await fake.close();
  });
  beforeEach(() => {
    for (const k of [
      'OPENAI_API_KEY',
      'OPENAI_BASE_URL',
      'DEEPGRAM_API_KEY',
      'DEEPGRAM_BASE_URL',
      'ELEVENLABS_API_KEY',
      'ELEVENLABS_BASE_URL',
      'LOG_LEVEL',
    ])
      vi.stubEnv(k, '');
    return () => vi.unstubAllEnvs();
  });

  it('tts works offline with no keys and writes a PCM16 WAV at the engine rate', async () => {
    const file = path.join(dir, 'hello.wav');
    const { code, out } = await capture(() => tts(['Hello, please book a table for two.', '-o', file]));
    expect(code).toBe(0);
    const report = JSON.parse(out) as { provider: string; sample_rate: number; duration_ms: number };
    expect(report.provider).toBe('offline');
    const wav = await readWavFile(file);
    expect(wav.encoding).toBe('pcm16');
    expect(wav.sampleRate).toBe(report.sample_rate);
    expect(wav.durationMs).toBeGreaterThan(1000);
  });

  it.skipIf(!has('flite') || !has('pocketsphinx_continuous'))(
    'transcribe works offline with no keys (speak-then-transcribe loop)',
    async () => {
      const file = path.join(dir, 'loop.wav');
      await capture(() => tts(['book a table for two', '-o', file]));
      const { code, out } = await capture(() => transcribe([file, '--json']));
      expect(code).toBe(0);
      const report = JSON.parse(out) as { provider: string; text: string; utterances: { words: unknown[] }[] };
      expect(report.provider).toBe('offline');
      expect(report.text).toContain('table for two');
      expect(report.utterances[0]!.words.length).toBeGreaterThan(2);
    },
  );

  it('tts on a configured cloud provider (ElevenLabs fake via ELEVENLABS_BASE_URL), resampled with --rate', async () => {
    vi.stubEnv('ELEVENLABS_API_KEY', 'xi-test');
    vi.stubEnv('ELEVENLABS_BASE_URL', fake.url);
    const file = path.join(dir, 'eleven.wav');
    const { out } = await capture(() => tts(['Hi there', '-o', file, '--provider', 'elevenlabs', '--rate', '8000']));
    expect(JSON.parse(out)).toMatchObject({ provider: 'elevenlabs', sample_rate: 8000 });
    expect(fake.requests.at(-1)!.query.output_format).toBe('pcm_8000');
    const wav = await readWavFile(file);
    expect(wav.sampleRate).toBe(8000);
    expect(wav.durationMs).toBeGreaterThan(400);
  });

  it('tts names the provider that produced the audio: --provider elevenlabs with no key falls back, and says so', async () => {
    const file = path.join(dir, 'fallback.wav');
    const { code, out } = await capture(() => tts(['Hi there', '-o', file, '--provider', 'elevenlabs']));
    expect(code).toBe(0);
    const report = JSON.parse(out) as { provider: string; requested?: string; fallback_from?: { provider: string }[] };
    expect(report.provider).toBe('offline');
    expect(report.requested).toBe('elevenlabs');
    expect(report.fallback_from?.map((f) => f.provider)).toEqual(['elevenlabs']);
  });

  it.skipIf(!has('ffmpeg'))('dtmf reads mp3, ogg, m4a and flac through ffmpeg', async () => {
    const src = path.resolve('fixtures/dtmf/cases/repeat-40ms.wav');
    for (const [ext, codec] of [
      ['mp3', []],
      ['ogg', ['-c:a', 'libvorbis']],
      ['m4a', ['-c:a', 'aac']],
      ['flac', []],
    ] as const) {
      const file = path.join(dir, `keys.${ext}`);
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', src, ...codec, file]);
      const { code, out } = await capture(() => dtmf([file]));
      expect(code, ext).toBe(0);
      const digits = out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { digit: string }).digit)
        .join('');
      expect(digits, ext).toBe('11223399##');
    }
  });

  it.skipIf(!has('flite') || !has('pocketsphinx_continuous') || !has('ffmpeg'))(
    'transcribe reads an ogg through ffmpeg',
    async () => {
      const wav = path.join(dir, 'spoken.wav');
      const ogg = path.join(dir, 'spoken.ogg');
      await capture(() => tts(['book a table for two', '-o', wav]));
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', wav, '-c:a', 'libvorbis', ogg]);
      const { code, out } = await capture(() => transcribe([ogg, '--json']));
      expect(code).toBe(0);
      expect((JSON.parse(out) as { text: string }).text).toContain('table');
    },
  );

  it('one exit code per error class across commands', async () => {
    const notAudio = path.join(dir, 'notes.txt');
    execFileSync('sh', ['-c', `echo 'not audio' > '${notAudio}'`]);
    for (const run of [dtmf, transcribe]) {
      const bad = (await run([notAudio]).catch((e: unknown) => e)) as CliError;
      expect(bad).toBeInstanceOf(CliError);
      expect(bad.exitCode).toBe(EXIT.input);
      expect(bad.message).toMatch(/notes\.txt: not an audio file/);
      const missing = (await run([path.join(dir, 'missing.mp3')]).catch((e: unknown) => e)) as CliError;
      expect(missing.exitCode).toBe(EXIT.input);
      const usage = (await run([]).catch((e: unknown) => e)) as CliError;
      expect(usage.exitCode).toBe(EXIT.usage);
    }
    const noOut = (await tts(['hello']).catch((e: unknown) => e)) as CliError;
    expect(noOut.exitCode).toBe(EXIT.usage);
    const unwritable = (await tts(['hello', '-o', path.join(dir, 'no/such/dir/x.wav')]).catch(
      (e: unknown) => e,
    )) as CliError;
    expect(unwritable.exitCode).toBe(EXIT.io);
  });

  it('user errors are CliErrors with a clear message', async () => {
    await expect(tts(['hello'])).rejects.toThrow(/-o out.wav/);
    await expect(tts(['hello', '-o', path.join(dir, 'x.wav'), '--provider', 'acme'])).rejects.toThrow(
      /unknown tts provider 'acme'/,
    );
    const err = await transcribe([path.join(dir, 'missing.wav')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).message).toContain('cannot read');
  });
});
