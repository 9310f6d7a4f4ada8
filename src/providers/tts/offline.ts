/**
 * The embedded offline TTS, no network: Debian `flite` (16 kHz voices, 10-40 ms a sentence) when installed, else
 * espeak-ng compiled to wasm in-process (@echogarden/espeak-ng-emscripten, GPL-3.0, 22.05 kHz, about 90 ms a
 * sentence). Output is PCM16 at the engine's real rate; the session converts only if the leg wants another format.
 *
 * Voices: flite `kal16` (default), `slt`, `rms`, `awb`, `kal` (8 kHz); `espeak` or `espeak:<voice>` (e.g.
 * `espeak:en-us`) selects the wasm engine explicitly.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type AudioChunk, type AudioFormat, PCM_16K, pcmFormat } from '../../audio/format.js';
import { abortedError, unavailable } from '../classify.js';
import { ProviderError, type Timing, type TtsProvider, type TtsRequest } from '../types.js';
import { which } from '../which.js';

export const FLITE_VOICES = ['kal16', 'slt', 'rms', 'awb', 'kal'] as const;
export const ESPEAK_RATE = 22050;

interface EspeakWorker {
  set_voice(name: string): unknown;
  set_rate(wpm: number): unknown;
  synthesize(text: string, cb: (audio: Int16Array, events: unknown[]) => number | boolean): void;
}

let espeak: Promise<EspeakWorker> | undefined;
function espeakWorker(): Promise<EspeakWorker> {
  espeak ??= (async () => {
    const mod = await import('@echogarden/espeak-ng-emscripten');
    const m = await mod.default();
    return new m.eSpeakNGWorker();
  })();
  return espeak;
}

/** Reads a RIFF/WAVE header from the front of `buf`: the sample rate and where the samples start. */
function wavHeader(buf: Buffer): { rate: number; dataOffset: number } | undefined {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE')
    return undefined;
  let off = 12;
  let rate = 0;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ' && off + 16 <= buf.length) rate = buf.readUInt32LE(off + 12);
    if (id === 'data') return rate ? { rate, dataOffset: off + 8 } : undefined;
    off += 8 + size;
  }
  return undefined;
}

function splitSentences(text: string): string[] {
  const parts = (text.match(/[^.!?;]+[.!?;]*/g) ?? []).map((p) => p.replace(/\s+/g, ' ').trim()).filter(Boolean);
  return parts.length ? parts : [' '];
}

export class OfflineTts implements TtsProvider {
  readonly id = 'offline';
  readonly formats: readonly AudioFormat[] = [PCM_16K, pcmFormat(ESPEAK_RATE)];

  constructor(private readonly opts: { voice?: string; engine?: 'flite' | 'espeak' } = {}) {}

  /** Which engine a request uses. */
  async engine(voice?: string): Promise<'flite' | 'espeak'> {
    const v = voice ?? this.opts.voice;
    if (this.opts.engine === 'espeak' || v?.startsWith('espeak')) return 'espeak';
    return (await which('flite')) ? 'flite' : 'espeak';
  }

  async *synthesize(request: TtsRequest, signal: AbortSignal, timing: Timing = {}): AsyncIterable<AudioChunk> {
    if (signal.aborted) throw abortedError(this.id, 'tts');
    timing.requestSentAt = performance.now();
    const voice = request.voice ?? this.opts.voice;
    if ((await this.engine(voice)) === 'flite') yield* this.flite(request, voice, signal, timing);
    else yield* this.espeak(request, voice, signal, timing);
    timing.doneAt = performance.now();
  }

  private async *flite(
    request: TtsRequest,
    voice: string | undefined,
    signal: AbortSignal,
    timing: Timing,
  ): AsyncGenerator<AudioChunk> {
    const v = voice && (FLITE_VOICES as readonly string[]).includes(voice) ? voice : 'kal16';
    const stretch =
      request.speed && request.speed !== 1 ? ['--setf', `duration_stretch=${(1 / request.speed).toFixed(3)}`] : [];
    // flite cannot write to a Node stdio socket (/dev/stdout is a socketpair), so each sentence goes through a temp
    // WAV file; a sentence at a time so the first audio leaves after the first sentence, not the whole text.
    for (const sentence of splitSentences(request.text)) {
      if (signal.aborted) throw abortedError(this.id, 'tts');
      const file = path.join(os.tmpdir(), `ve-flite-${process.pid}-${randomUUID()}.wav`);
      try {
        await new Promise<void>((resolve, reject) => {
          // -t: the text is one argument (no shell)
          execFile(
            'flite',
            ['-voice', v, ...stretch, '-t', sentence, '-o', file],
            { signal, timeout: 30_000 },
            (err) => (err ? reject(err) : resolve()),
          );
        });
        const wav = await readFile(file);
        const h = wavHeader(wav);
        if (!h)
          throw new ProviderError({
            provider: this.id,
            kind: 'tts',
            code: 'malformed',
            message: 'offline tts: flite wrote no WAV',
            retryable: false,
          });
        const format = pcmFormat(h.rate);
        const data = wav.subarray(h.dataOffset, h.dataOffset + ((wav.length - h.dataOffset) & ~1));
        const step = h.rate * 2 * 0.2; // 200 ms chunks, views over the file buffer
        for (let i = 0; i < data.length; i += step) {
          timing.firstByteAt ??= performance.now();
          yield { format, data: data.subarray(i, Math.min(data.length, i + step)) };
        }
      } catch (err) {
        if (signal.aborted) throw abortedError(this.id, 'tts');
        if (err instanceof ProviderError) throw err;
        throw new ProviderError({
          provider: this.id,
          kind: 'tts',
          code: 'server',
          message: `offline tts: flite failed: ${(err as Error).message}`,
          retryable: false,
        });
      } finally {
        rm(file, { force: true }).catch(() => {});
      }
    }
  }

  private async *espeak(
    request: TtsRequest,
    voice: string | undefined,
    signal: AbortSignal,
    timing: Timing,
  ): AsyncGenerator<AudioChunk> {
    let worker: EspeakWorker;
    try {
      worker = await espeakWorker();
    } catch (err) {
      throw unavailable(
        this.id,
        'tts',
        `offline tts: espeak-ng wasm failed to load (${(err as Error).message}); install flite: apt-get install flite`,
      );
    }
    if (signal.aborted) throw abortedError(this.id, 'tts');
    const name = voice?.startsWith('espeak:') ? voice.slice(7) : (request.language?.toLowerCase() ?? 'en-us');
    try {
      worker.set_voice(name);
    } catch {
      worker.set_voice('en-us'); // an unknown voice or language: speak rather than fail the turn
    }
    worker.set_rate(Math.round(175 * (request.speed ?? 1)));
    const format = pcmFormat(ESPEAK_RATE);
    // The wasm engine is synchronous: synthesize a sentence at a time so that audio starts after the first one
    // and an abort takes effect between sentences.
    for (const sentence of splitSentences(request.text)) {
      if (signal.aborted) throw abortedError(this.id, 'tts');
      const parts: Int16Array[] = [];
      worker.synthesize(sentence, (audio) => {
        parts.push(audio);
        return 0;
      });
      for (const p of parts) {
        if (!p.length) continue;
        timing.firstByteAt ??= performance.now();
        yield { format, data: new Uint8Array(p.buffer, p.byteOffset, p.byteLength) };
      }
      await new Promise((r) => setImmediate(r)); // let the event loop breathe between sentences
    }
  }
}
