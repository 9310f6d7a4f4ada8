import { describe, expect, it } from 'vitest';
import { ScriptedTts } from '../../bench/scripted.js';
import type { AudioChunk } from '../../src/audio/format.js';
import { Utterance } from '../../src/call/speech.js';
import { TextSplitter } from '../../src/call/text-split.js';
import type { TtsProvider, TtsRequest } from '../../src/providers/types.js';
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
