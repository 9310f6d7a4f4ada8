import { describe, expect, it } from 'vitest';
import { ScriptedTts } from '../../bench/scripted.js';
import { type AudioChunk, MULAW_8K, type WordTiming } from '../../src/audio/format.js';
import { linearToMulaw } from '../../src/audio/g711.js';
import { heardOf } from '../../src/call/heard-text.js';
import { Utterance } from '../../src/call/speech.js';
import { TextSplitter } from '../../src/call/text-split.js';
import type { TtsProvider, TtsRequest } from '../../src/providers/types.js';
import type { MediaLeg } from '../../src/telephony/leg.js';
import { FakeLeg } from './fake-leg.js';

describe('TextSplitter', () => {
  it('cuts a first clause early, then whole sentences; abbreviations and decimals do not end a sentence', () => {
    const s = new TextSplitter();
    const out: string[] = [];
    for (const d of ['Sure, Dr. Smith can see you ', 'at 3.5 hours from now. ', 'Anything else', '?'])
      out.push(...s.push(d));
    const rest = s.flush();
    if (rest) out.push(rest);
    expect(out).toEqual(['Sure, Dr. Smith can see you at 3.5 hours from now.', 'Anything else?']);
    const t = new TextSplitter();
    expect(t.push('Of course, I can check that for you, just a moment. ')).toEqual([
      'Of course, I can check that for you,',
      'just a moment.',
    ]);
  });
});

describe('Utterance', () => {
  it('synthesizes the next clause while the current one streams, and plays them in order', async () => {
    const log: string[] = [];
    const inner = new ScriptedTts({ firstByteMs: 30, msPerChar: 10, chunkMs: 20 });
    const tts: TtsProvider = {
      id: 'logged',
      formats: inner.formats,
      async *synthesize(req: TtsRequest, signal: AbortSignal): AsyncIterable<AudioChunk> {
        log.push(`start ${req.text}`);
        yield* inner.synthesize(req, signal);
        log.push(`end ${req.text}`);
      },
    };
    const leg = new FakeLeg();
    const u = new Utterance({ id: 'u1', leg, tts, request: {}, now: () => performance.now() });
    leg.setHandler({
      onAudio() {},
      onDtmf() {},
      onStop() {},
      onMark: (name, played) => u.onMark(name, played),
      onPlaybackIdle: () => u.onPlaybackIdle(),
    });
    u.say('The first sentence is here. The second one follows.');
    u.end();
    await u.synthesized;
    expect(log.indexOf('start The second one follows.')).toBeLessThan(log.indexOf('end The first sentence is here.'));
    const marks = leg.out.filter((e) => e.type === 'mark').map((e) => (e.type === 'mark' ? e.name : ''));
    expect(marks).toEqual(['u1:0', 'u1:1', 'u1:end']);
    await u.finished;
    expect(u.heardText()).toBe('The first sentence is here. The second one follows.');
    leg.stop('done');
  });

  it('after a clear, heardText is the word prefix the caller heard', async () => {
    const leg = new FakeLeg();
    const u = new Utterance({
      id: 'u2',
      leg,
      tts: new ScriptedTts({ firstByteMs: 5, msPerChar: 20 }),
      request: {},
      now: () => performance.now(),
    });
    const text = 'one two three four five six seven eight nine ten eleven twelve.';
    u.say(text);
    u.end();
    await u.synthesized;
    await new Promise((r) => setTimeout(r, 400));
    u.cancel();
    leg.clear();
    const heard = u.heardText();
    expect(heard.length).toBeGreaterThan(0);
    expect(heard.length).toBeLessThan(text.length);
    expect(text.startsWith(heard)).toBe(true);
    leg.stop('done');
  });
});

/** A leg whose playout position the test sets; it keeps every chunk played. */
function manualLeg() {
  const played: AudioChunk[] = [];
  const leg = {
    info: new FakeLeg().info,
    playedSamples: 0,
    pendingSamples: 0,
    closed: false,
    played,
    play(c: AudioChunk) {
      played.push(c);
    },
    mark() {},
    clear() {},
  };
  return leg;
}

/**
 * mu-law 8 kHz TTS: `leadMs` of silence, then a tone per word for its duration, in 100 ms chunks; with `words`, each
 * word's timing (ms from the start of the audio, silence included) comes on the chunk where the word ends.
 */
function wordTts(leadMs: number, words: [string, number][] | undefined, durations: number[]): TtsProvider {
  return {
    id: 'word-tts',
    formats: [MULAW_8K],
    async *synthesize(): AsyncIterable<AudioChunk> {
      const total = leadMs + durations.reduce((a, b) => a + b, 0);
      const all = new Uint8Array(total * 8).fill(0xff);
      for (let i = leadMs * 8; i < all.length; i++) all[i] = linearToMulaw(i % 2 ? 6000 : -6000);
      const timings: WordTiming[] = [];
      let t = leadMs;
      for (let i = 0; i < durations.length; i++) {
        timings.push({ word: words?.[i]?.[0] ?? '', startMs: t, endMs: t + durations[i]! });
        t += durations[i]!;
      }
      for (let ms = 0; ms < total; ms += 100) {
        const end = Math.min(total, ms + 100);
        const ended = words ? timings.filter((w) => w.endMs > ms && w.endMs <= end) : [];
        yield { format: MULAW_8K, data: all.subarray(ms * 8, end * 8), ...(ended.length ? { words: ended } : {}) };
      }
    },
  };
}

describe('Utterance: trimmed TTS audio, first audible sample, truncation', () => {
  const durations = [100, 100, 700, 100];
  const words: [string, number][] = [
    ['alpha', 0],
    ['beta', 0],
    ['gamma', 0],
    ['delta.', 0],
  ];

  async function cutAt(tts: TtsProvider, heardMs: number) {
    const leg = manualLeg();
    let clock = 1000;
    const u = new Utterance({ id: 'w', leg: leg as unknown as MediaLeg, tts, request: {}, now: () => clock });
    u.say('alpha beta gamma delta.');
    u.end();
    await u.synthesized;
    leg.playedSamples = heardMs * 8;
    u.pause();
    clock += 1;
    return { u, leg, heard: u.heardText() };
  }

  it('sends no leading silence; the first audible sample is measured, not the first byte', async () => {
    const { u, leg } = await cutAt(wordTts(360, undefined, durations), 0);
    const first = leg.played[0]!;
    // 5 ms preroll, then the tone.
    expect(first.data[0]).toBe(0xff);
    expect(first.data[40]).not.toBe(0xff);
    const sent = leg.played.reduce((a, c) => a + c.data.byteLength, 0);
    expect(sent).toBe(40 + 1000 * 8);
    expect(u.timings.firstAudibleAt! - u.timings.firstAudioAt!).toBe(5);
  });

  it('cuts at the last word the caller heard by TTS word timings when the provider gives them', async () => {
    // 420 ms of trimmed audio heard = 5 ms preroll + 415 ms of words: alpha (100) and beta (100) are over, gamma not.
    const { u, heard } = await cutAt(wordTts(300, words, durations), 420);
    expect(heard).toBe('alpha beta');
    expect(u.truncation).toBe('word_timestamps');
  });

  it('falls back to the played-sample share of the words without timings', async () => {
    const { u, heard } = await cutAt(wordTts(300, undefined, durations), 420);
    // 420 of 1125 ms (preroll + 1000 + the 120 ms tail kept): 1 word of 4.
    expect(heard).toBe('alpha');
    expect(u.truncation).toBe('estimate');
  });
});

describe('heardOf: a piece spoken over a text stream', () => {
  it('in progress without word timings: the share of its text at 400 ms a word at most, then of its audio', () => {
    const text = 'one two three four five six seven eight nine ten';
    const piece = { text, start: 0, end: -1, stream: true };
    // 1 s heard of 1 s queued: the text (10 words = 4 s) runs ahead of the audio, so 1/4 of it.
    expect(heardOf([piece], 8000, 8000, 8000)).toEqual({ text: 'one two', method: 'estimate' });
    // 4 s of 8 s queued (the provider is ahead of the nominal rate): half.
    expect(heardOf([piece], 32000, 8000, 64000).text).toBe('one two three four five');
    // Not a stream piece: nothing is claimed of a piece still being synthesized.
    expect(heardOf([{ text, start: 0, end: -1 }], 8000, 8000, 8000).text).toBe('');
  });
});
