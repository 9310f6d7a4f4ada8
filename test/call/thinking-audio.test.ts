import { afterEach, describe, expect, it } from 'vitest';
import { MULAW_8K } from '../../src/audio/format.js';
import { clearGreetingCache } from '../../src/call/greeting.js';
import { thinkingAudio } from '../../src/call/thinking-audio.js';
import { harnessPerTest } from './harness.js';

afterEach(clearGreetingCache);
const h = harnessPerTest();

function slowAnswer(thinking: 'none' | 'filler' | 'sound' | 'music') {
  return h({
    config: { settings: { thinkingAudio: thinking, fillerAfterMs: 300 } },
    asr: { script: ['what are your opening hours'] },
    // The LLM takes 1.2 s to its first token: past fillerAfterMs.
    llm: { respond: () => [{ text: 'We open at nine.' }], firstTokenMs: 1200 },
    tts: { msPerChar: 10 },
  });
}

describe('thinking audio', () => {
  it('loads each kind from media/ in the call format (filler phrases take turns)', async () => {
    const a = await thinkingAudio('filler', MULAW_8K, 0);
    const b = await thinkingAudio('filler', MULAW_8K, 1);
    expect(a).toHaveLength(1);
    expect(a[0]!.data.byteLength).not.toBe(b[0]!.data.byteLength);
    const music = await thinkingAudio('music', MULAW_8K, 0);
    // 8 s of hold music looped to 24 s, mu-law 8 kHz.
    expect(music.reduce((n, c) => n + c.data.byteLength, 0)).toBe(3 * 8 * 8000);
    expect((await thinkingAudio('sound', MULAW_8K, 0))[0]!.format).toBe(MULAW_8K);
  });

  for (const kind of ['filler', 'sound', 'music'] as const) {
    it(`${kind}: plays past fillerAfterMs while the answer is slow, cut the moment the answer starts`, async () => {
      const x = slowAnswer(kind);
      await x.session.start();
      await x.leg.caller('speech', 600);
      await x.leg.caller('silence', 300);
      await x.until(() => x.session.state === 'listening' && x.sink.of('turn').length > 0, 'answer played');
      const turn = x.sink.of('turn')[0]!;
      expect(turn.thinkingAudio).toBe(kind);
      expect(typeof turn.thinkingAudioMs).toBe('number');
      // Thinking audio went out, then one clear (the cut), then the answer; the answer is heard whole.
      const out = x.leg.out.map((e) => e.type).filter((t) => t === 'play' || t === 'clear');
      const clear = out.indexOf('clear');
      expect(clear).toBeGreaterThan(0);
      expect(out.slice(clear + 1)).toContain('play');
      expect(out.filter((t) => t === 'clear')).toHaveLength(1);
      expect(x.session.transcript.at(-1)).toMatchObject({ role: 'assistant', text: 'We open at nine.' });
      expect(x.session.transcript.at(-1)!.interrupted).toBeUndefined();
    });
  }

  it('none (the default): silence until the answer, nothing cleared', async () => {
    const x = slowAnswer('none');
    await x.session.start();
    await x.leg.caller('speech', 600);
    await x.leg.caller('silence', 300);
    await x.until(() => x.session.state === 'listening' && x.sink.of('turn').length > 0, 'answer played');
    expect(x.leg.count('clear')).toBe(0);
    expect(x.sink.of('turn')[0]!.thinkingAudio).toBeUndefined();
  });
});
