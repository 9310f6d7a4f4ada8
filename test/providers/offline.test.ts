import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { AudioConverter } from '../../src/audio/convert.js';
import { type AudioChunk, type AudioFormat, MULAW_8K, PCM_16K } from '../../src/audio/format.js';
import { OfflineAsr, unpaddedMs } from '../../src/providers/asr/offline.js';
import { OfflineTts } from '../../src/providers/tts/offline.js';
import { type AsrEvent, ProviderError } from '../../src/providers/types.js';

const has = (bin: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`]);
    return true;
  } catch {
    return false;
  }
};
const HAS_FLITE = has('flite');
const HAS_PS = has('pocketsphinx_continuous');

async function speak(tts: OfflineTts, text: string, voice?: string): Promise<AudioChunk[]> {
  const out: AudioChunk[] = [];
  for await (const c of tts.synthesize({ text, voice, format: PCM_16K }, new AbortController().signal)) out.push(c);
  return out;
}

describe('offline tts', () => {
  it.skipIf(!HAS_FLITE)('flite speaks PCM16 at 16 kHz (kal16), streamed with its real rate', async () => {
    const chunks = await speak(new OfflineTts(), 'Hello, how can I help you today?');
    expect(chunks[0]!.format).toEqual(PCM_16K);
    const bytes = chunks.reduce((n, c) => n + c.data.length, 0);
    expect(bytes % 2).toBe(0);
    expect(bytes / 32000).toBeGreaterThan(1); // more than a second of speech
  });

  it('espeak-ng wasm speaks in-process at 22.05 kHz', async () => {
    const chunks = await speak(new OfflineTts(), 'Hello there. Goodbye.', 'espeak:en-us');
    expect(chunks[0]!.format.sampleRate).toBe(22050);
    const samples = chunks.reduce((n, c) => n + c.data.length / 2, 0);
    expect(samples / 22050).toBeGreaterThan(0.8);
    // real speech, not silence
    const pcm = new Int16Array(chunks[0]!.data.buffer, chunks[0]!.data.byteOffset, chunks[0]!.data.length / 2);
    expect(Math.max(...pcm.map(Math.abs))).toBeGreaterThan(1000);
  });

  it('abort stops synthesis with an aborted error', async () => {
    const ctrl = new AbortController();
    ctrl.abort();
    const e2 = await (async () => {
      for await (const _ of new OfflineTts().synthesize({ text: 'Hello.', format: PCM_16K }, ctrl.signal)) void _;
    })().catch((e: unknown) => e);
    expect((e2 as ProviderError).code).toBe('aborted');
  });
});

describe('offline asr (pocketsphinx)', () => {
  it('open fails with unavailable and says how to enable it when the model is absent', async () => {
    const err = await new OfflineAsr({ modelDir: '/nonexistent' })
      .open({ format: PCM_16K }, () => {})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).code).toBe('unavailable');
    expect((err as ProviderError).message).toContain('apt-get install pocketsphinx pocketsphinx-en-us');
  });

  /** Streams two flite sentences in `format` (20 ms frames), each followed by a 500 ms pause and finalize(). */
  async function loop(format: AudioFormat): Promise<AsrEvent[]> {
    const tts = new OfflineTts();
    const events: AsrEvent[] = [];
    const stream = await new OfflineAsr().open({ format }, (e) => events.push(e));
    const frame = format.encoding === 'mulaw' ? 160 : 640;
    for (const sentence of ['book a table for two', 'what time do you open']) {
      const conv = new AudioConverter(PCM_16K, format);
      for (const c of await speak(tts, sentence)) {
        const data = conv.convert(c.data);
        for (let i = 0; i < data.length; i += frame) stream.write(data.subarray(i, i + frame));
      }
      // The caller's pause, as the line carries it (silence in the stream's format).
      const pause = new Uint8Array(25 * frame).fill(format.encoding === 'mulaw' ? 0xff : 0);
      for (let i = 0; i < pause.length; i += frame) stream.write(pause.subarray(i, i + frame));
      stream.finalize();
    }
    await stream.close();
    await stream.close();
    return events;
  }

  it.skipIf(!HAS_FLITE || !HAS_PS)(
    'transcribes flite speech at 16 kHz: one final per utterance, timings across the stream',
    async () => {
      const events = await loop(PCM_16K);
      const finals = events.filter((e) => e.type === 'final');
      expect(finals.length).toBe(2);
      // measured: "but a table for two" / "what time do you open" (pocketsphinx hears "book" as "but")
      expect(finals.map((e) => (e.type === 'final' ? e.text : '')).join(' | ')).toMatch(
        /table for two \| what time do you open/,
      );
      const f2 = finals[1]!;
      if (f2.type === 'final') expect(f2.words[0]!.startMs).toBeGreaterThan(1000);
      expect(events.filter((e) => e.type === 'utterance_end').length).toBe(2);
      expect(events.at(-1)).toEqual({ type: 'closed' });
    },
  );

  it.skipIf(!HAS_FLITE || !HAS_PS)(
    'takes 8 kHz mu-law (converted to 16 kHz inside); accuracy there is demo grade',
    async () => {
      const events = await loop(MULAW_8K);
      expect(events.filter((e) => e.type === 'final').length).toBeGreaterThan(0);
      expect(events.some((e) => e.type === 'error')).toBe(false);
      expect(events.at(-1)).toEqual({ type: 'closed' });
    },
  );
});

describe('offline asr word times', () => {
  it('are in the caller audio: silence padded into the stream (finalize) is taken off what follows it', () => {
    // No pad: the recognizer's clock is the audio's.
    expect(unpaddedMs([], 7000)).toBe(7000);
    // 1 s padded after 5 s of audio: a word at 8.4 s on the recognizer's clock was said at 7.4 s.
    const pads = [5000, 1000];
    expect(unpaddedMs(pads, 4000)).toBe(4000);
    expect(unpaddedMs(pads, 8400)).toBe(7400);
    // Inside the pad: the pad's start.
    expect(unpaddedMs(pads, 5500)).toBe(5000);
    // Two pads (the second 1 s after the first one ended, in audio): both come off.
    expect(unpaddedMs([5000, 1000, 11000, 1000], 14500)).toBe(12500);
  });
});
