import { describe, expect, it } from 'vitest';
import { type AudioChunk, MULAW_8K, PCM_16K } from '../../src/audio/format.js';
import { linearToMulaw } from '../../src/audio/g711.js';
import { amplitudeOf, firstAudible, SilenceTrimmer } from '../../src/audio/trim.js';
import { OfflineTts } from '../../src/providers/tts/offline.js';

function pcmChunk(samples: Int16Array): AudioChunk {
  return { format: PCM_16K, data: new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength) };
}

function concat(chunks: readonly AudioChunk[]): Int16Array {
  const bytes = Buffer.concat(chunks.map((c) => Buffer.from(c.data)));
  return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
}

/** `ms` of a 300 Hz tone (`amp`) or silence (amp 0) at 16 kHz. */
function tone(ms: number, amp: number): Int16Array {
  const n = (ms * 16000) / 1000;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amp * Math.sin((2 * Math.PI * 300 * (i + 0.5)) / 16000));
  return out;
}

function join(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Feed `pcm` in `chunkMs` chunks; returns what was sent, and after which input chunk each piece went out. */
function run(pcm: Int16Array, chunkMs: number, t = new SilenceTrimmer()) {
  const step = (chunkMs * 16000) / 1000;
  const sent: AudioChunk[] = [];
  const sentAfter: number[] = [];
  for (let i = 0, k = 0; i < pcm.length; i += step, k++) {
    for (const c of t.push(pcmChunk(pcm.subarray(i, i + step)))) {
      sent.push(c);
      sentAfter.push(k);
    }
  }
  t.end();
  return { out: concat(sent), sentAfter, trimmer: t };
}

describe('SilenceTrimmer', () => {
  it('cuts leading silence to a 5 ms preroll and trailing silence to 120 ms; a pause inside the speech stays', () => {
    const pcm = join(
      tone(0, 0),
      new Int16Array(5600),
      tone(200, 8000),
      new Int16Array(4800),
      tone(100, 8000),
      new Int16Array(8000),
    );
    const { out, trimmer } = run(pcm, 20);
    const lead = 5600 - 80; // 350 ms of silence, less the 5 ms preroll
    expect(trimmer.leadSamples).toBe(lead);
    // 200 ms tone + 300 ms pause (kept whole) + 100 ms tone + 120 ms of the trailing 500 ms.
    expect(out.length).toBe(80 + 3200 + 4800 + 1600 + 1920);
    expect(Array.from(out)).toEqual(Array.from(pcm.subarray(lead, lead + out.length)));
    expect(trimmer.tailSamples).toBe(8000 - 1920);
  });

  it('takes the preroll from the previous chunk when speech starts a chunk, and holds back only past 120 ms', () => {
    const pcm = join(new Int16Array(3200), tone(100, 8000), new Int16Array(6400), tone(40, 8000));
    const { out, sentAfter } = run(pcm, 100);
    expect(out.length).toBe(80 + 1600 + 6400 + 640);
    expect(Array.from(out)).toEqual(Array.from(pcm.subarray(3200 - 80)));
    // The 400 ms pause: 120 ms go out with the chunks they come in; the rest waits for the tone that follows.
    const last = sentAfter[sentAfter.length - 1]!;
    expect(last).toBe(Math.floor((3200 + 1600 + 6400) / 1600));
  });

  it('reads mu-law: silence is 0xff, speech above -50 dBFS', () => {
    const t = new SilenceTrimmer();
    const data = new Uint8Array(800).fill(0xff);
    for (let i = 400; i < 800; i++) data[i] = linearToMulaw(i % 2 ? 4000 : -4000);
    const out = t.push({ format: MULAW_8K, data });
    expect(out.reduce((a, c) => a + c.data.byteLength, 0)).toBe(400 + 40);
    expect(firstAudible(out[0]!, amplitudeOf(-50))).toBe(40);
  });

  it("removes flite's leading silence (offline TTS, ~360 ms) to under 10 ms", async () => {
    const tts = new OfflineTts({ engine: 'flite' });
    if ((await tts.engine()) !== 'flite') return; // flite is in .ci/run; without it the espeak path is tested elsewhere
    const raw: AudioChunk[] = [];
    for await (const c of tts.synthesize(
      { text: 'Hello, how can I help you today?', format: PCM_16K },
      new AbortController().signal,
    ))
      raw.push(c);
    const pcm = concat(raw);
    const amp = amplitudeOf(-50);
    const rawLeadMs = (firstAudible(pcmChunk(pcm), amp) * 1000) / 16000;
    expect(rawLeadMs).toBeGreaterThan(200);
    const { out } = run(pcm, 20);
    const leadMs = (firstAudible(pcmChunk(out), amp) * 1000) / 16000;
    expect(leadMs).toBeLessThanOrEqual(5);
    expect(out.length).toBeLessThan(pcm.length);
  });
});
