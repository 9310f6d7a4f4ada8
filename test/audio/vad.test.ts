import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CALLS_DIR, loadScenario } from '../../fixtures/scenario.js';
import { resample } from '../../src/audio/resample.js';
import { createVad, VAD_DEFAULTS, type Vad, type VadOptions, type WebRtcVad } from '../../src/audio/vad.js';
import { readWavFile } from '../../src/audio/wav.js';

/** The committed clips are 8 kHz mu-law (fixtures/generate.ts): the VAD sees telephone audio, as in a call. */
const VAD_DIR = join(import.meta.dirname, '../../fixtures/vad');

interface Clip {
  file: string;
  kind: 'speech' | 'silence' | 'noise' | 'music';
  segments?: { startMs: number; endMs: number; text: string }[];
}

interface Trace {
  /** Speech-starts: reported onset and the stream time when the event fired, ms. */
  starts: { atMs: number; firedMs: number }[];
  ends: { atMs: number; speechMs: number; firedMs: number }[];
  probs: number[];
  frameMs: number;
}

async function trace(pcm: Int16Array, opts: Partial<VadOptions> = {}, frameMs = 20): Promise<Trace & { vad: Vad }> {
  const rate = opts.sampleRate ?? 8000;
  const vad = await createVad({ sampleRate: rate, ...opts });
  const t: Trace = { starts: [], ends: [], probs: [], frameMs };
  const n = (rate * frameMs) / 1000;
  let now = 0;
  vad.onSpeechStart = (atMs) => t.starts.push({ atMs, firedMs: now });
  vad.onSpeechEnd = (atMs, speechMs) => t.ends.push({ atMs, speechMs, firedMs: now });
  for (let off = 0; off + n <= pcm.length; off += n) {
    now += frameMs;
    t.probs.push(vad.process(pcm.subarray(off, off + n)));
  }
  return { ...t, vad };
}

let clips: Clip[];
const audio = new Map<string, Int16Array>();

beforeAll(async () => {
  clips = JSON.parse(await readFile(join(VAD_DIR, 'clips.json'), 'utf8')) as Clip[];
  for (const c of clips) {
    const wav = await readWavFile(join(VAD_DIR, c.file));
    expect(wav.encoding).toBe('mulaw');
    expect(wav.sampleRate).toBe(8000);
    audio.set(c.file, wav.samples);
  }
});

const speechClip = () => {
  const c = clips.find((x) => x.kind === 'speech')!;
  return { segments: c.segments!, pcm: audio.get(c.file)! };
};

describe('VAD on speech (8 kHz mu-law, line noise, flite + espeak-ng voices)', () => {
  it('starts once per utterance, 100-200 ms after the onset, with the onset time', async () => {
    const { segments, pcm } = speechClip();
    const t = await trace(pcm);
    expect(t.starts).toHaveLength(segments.length);
    segments.forEach((s, i) => {
      const st = t.starts[i]!;
      // Fired within 200 ms of the true onset (smoothing window + minSpeechMs), never before it.
      expect(st.firedMs - s.startMs).toBeGreaterThanOrEqual(0);
      expect(st.firedMs - s.startMs).toBeLessThanOrEqual(200);
      // The reported onset is the first voiced 10 ms, within 60 ms of the truth.
      expect(Math.abs(st.atMs - s.startMs)).toBeLessThanOrEqual(60);
    });
  });

  it('ends after the hangover, once per utterance, with the end time and speech length', async () => {
    const { segments, pcm } = speechClip();
    const t = await trace(pcm);
    expect(t.ends).toHaveLength(segments.length);
    segments.forEach((s, i) => {
      const e = t.ends[i]!;
      // WebRTC VAD's own overhang keeps a few 10 ms frames voiced after the speech: measured 26..101 ms late.
      expect(e.atMs - s.endMs).toBeGreaterThanOrEqual(-50);
      expect(e.atMs - s.endMs).toBeLessThanOrEqual(150);
      // Fires hangoverMs after the last voiced 10 ms (to the next 20 ms frame boundary).
      expect(e.firedMs - e.atMs).toBeGreaterThanOrEqual(VAD_DEFAULTS.hangoverMs);
      expect(e.firedMs - e.atMs).toBeLessThan(VAD_DEFAULTS.hangoverMs + 20);
      expect(e.speechMs).toBe(e.atMs - t.starts[i]!.atMs);
    });
  });

  it('gives high probability inside speech and low outside', async () => {
    const { segments, pcm } = speechClip();
    const t = await trace(pcm);
    let inside = 0;
    let insideHigh = 0;
    let outside = 0;
    let outsideHigh = 0;
    t.probs.forEach((p, i) => {
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
      const ms = i * t.frameMs;
      if (segments.some((s) => ms >= s.startMs + 100 && ms < s.endMs)) {
        inside++;
        if (p >= 0.5) insideHigh++;
      } else if (!segments.some((s) => ms >= s.startMs - 200 && ms < s.endMs + 200)) {
        outside++;
        if (p >= 0.5) outsideHigh++;
      }
    });
    expect(insideHigh / inside).toBeGreaterThan(0.8);
    expect(outsideHigh / outside).toBeLessThan(0.01);
  });

  it('honours hangoverMs and minSpeechMs', async () => {
    const { segments, pcm } = speechClip();
    const short = await trace(pcm, { hangoverMs: 200 });
    expect(short.ends).toHaveLength(segments.length);
    for (const e of short.ends) expect(e.firedMs - e.atMs).toBeLessThan(220);
    const slow = await trace(pcm, { minSpeechMs: 300 });
    expect(slow.starts).toHaveLength(segments.length);
    slow.starts.forEach((st, i) => {
      expect(st.firedMs - segments[i]!.startMs).toBeGreaterThanOrEqual(300);
    });
  });

  it('works the same on 10, 20 and 30 ms frames', async () => {
    const { pcm } = speechClip();
    const ref = (await trace(pcm, {}, 20)).starts.map((s) => s.atMs);
    expect((await trace(pcm, {}, 10)).starts.map((s) => s.atMs)).toEqual(ref);
    expect((await trace(pcm, {}, 30)).starts.map((s) => s.atMs)).toEqual(ref);
  });

  it('detects the same speech at 16 kHz', async () => {
    const { segments, pcm } = speechClip();
    const t = await trace(resample(pcm, 8000, 16000), { sampleRate: 16000 });
    expect(t.starts).toHaveLength(segments.length);
    segments.forEach((s, i) => {
      expect(t.starts[i]!.firedMs - s.startMs).toBeLessThanOrEqual(200);
    });
  });
});

describe('VAD on non-speech', () => {
  it('never starts on silence, white / pink noise (-45 / -40 dBFS) or 50 / 60 Hz hum', async () => {
    for (const c of clips.filter((x) => x.kind === 'silence' || x.kind === 'noise')) {
      const t = await trace(audio.get(c.file)!);
      expect(t.starts, c.file).toEqual([]);
      expect(Math.max(...t.probs), c.file).toBeLessThan(VAD_DEFAULTS.startThreshold);
    }
  });

  it('starts at most once on 8 s of music (measured: one start, ~97% of frames voiced)', async () => {
    // WebRTC VAD's GMM sees harmonic music as voiced; what it must not do is flap on and off (each flap would be
    // a barge-in). Hold music is the engine's own output and never reaches this VAD.
    const t = await trace(audio.get('music.wav')!);
    expect(t.starts.length).toBeLessThanOrEqual(1);
  });
});

describe('VAD on the call fixtures (speech, pauses, DTMF and line noise)', () => {
  it('detects every caller utterance and nothing in the silent stretches', async () => {
    const names = ['greeting-question', 'order-status', 'barge-in', 'backchannel', 'hesitation', 'silence-timeout'];
    for (const name of names) {
      const s = await loadScenario(join(CALLS_DIR, `${name}.json`));
      const t = await trace((await readWavFile(s.audioPath)).samples);
      for (const e of s.events) {
        if (e.type !== 'speech') continue;
        const st = t.starts.find((x) => x.firedMs >= e.startMs && x.firedMs <= e.startMs + 200);
        expect(st, `${name}: "${e.text}" at ${e.startMs} ms`).toBeDefined();
      }
      // Every start belongs to an utterance or a DTMF burst (tones are voiced to a VAD; the session's DTMF
      // detector decides those), none to the line noise.
      for (const st of t.starts) {
        const inEvent = s.events.some((e) => e.type !== 'pause' && st.atMs >= e.startMs - 60 && st.atMs <= e.endMs);
        expect(inEvent, `${name}: start at ${st.atMs} ms`).toBe(true);
      }
    }
  });
});

describe('VAD lifecycle', () => {
  it('reset() clears state and restarts the stream clock', async () => {
    const { segments, pcm } = speechClip();
    const first = segments[0]!;
    const vad = await createVad({ sampleRate: 8000 });
    const starts: number[] = [];
    vad.onSpeechStart = (at) => starts.push(at);
    const feed = (from: number, to: number) => {
      for (let off = from * 8; off + 160 <= to * 8; off += 160) vad.process(pcm.subarray(off, off + 160));
    };
    feed(0, first.startMs + 400);
    expect(vad.speaking).toBe(true);
    vad.reset();
    expect(vad.speaking).toBe(false);
    feed(0, first.startMs + 400);
    expect(starts).toHaveLength(2);
    expect(starts[1]).toBe(starts[0]);
  });

  it('skips and counts frames that are not a multiple of 10 ms, without throwing', async () => {
    const vad = (await createVad({ sampleRate: 8000 })) as WebRtcVad;
    expect(vad.process(new Int16Array(100))).toBe(0);
    expect(vad.process(new Int16Array(0))).toBe(0);
    expect(vad.invalidFrames).toBe(2);
    expect(vad.process(new Int16Array(160))).toBe(0);
    expect(vad.invalidFrames).toBe(2);
  });

  it('rejects unsupported sample rates', async () => {
    await expect(createVad({ sampleRate: 44100 as 8000 })).rejects.toThrow(/8000 or 16000/);
  });

  it('keeps many VADs independent on one shared module; close() is idempotent', async () => {
    const { segments, pcm } = speechClip();
    const vads = await Promise.all(Array.from({ length: 200 }, () => createVad({ sampleRate: 8000 })));
    const end = (segments[0]!.startMs + 400) * 8;
    // Feed speech to the even ones only, interleaved frame by frame.
    for (let off = 0; off + 160 <= end; off += 160) {
      for (let i = 0; i < vads.length; i += 2) vads[i]!.process(pcm.subarray(off, off + 160));
      for (let i = 1; i < vads.length; i += 2) vads[i]!.process(new Int16Array(160));
    }
    vads.forEach((v, i) => {
      expect(v.speaking).toBe(i % 2 === 0);
    });
    for (const v of vads) {
      (v as WebRtcVad).close();
      (v as WebRtcVad).close();
    }
    expect(vads[0]!.process(pcm.subarray(0, 160))).toBeGreaterThanOrEqual(0);
  });
});
