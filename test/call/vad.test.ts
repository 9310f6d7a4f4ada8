/** The call's speech gate (src/call/vad.ts): onset / end events on the audio clock, and a detector's end lag. */
import { describe, expect, it } from 'vitest';
import { SpeechGate } from '../../src/call/vad.js';

/** Runs reported for a probability track of 20 ms frames (1 = speech). */
function gateRuns(track: number[], endLagMs = 0): { start: number[]; end: [number, number][] } {
  const start: number[] = [];
  const end: [number, number][] = [];
  const gate = new SpeechGate(
    { threshold: 0.5, onsetMs: 60, hangoverMs: 160 },
    { onSpeechStart: (at) => start.push(at), onSpeechEnd: (at, ms) => end.push([at, ms]) },
  );
  gate.setEndLag(endLagMs);
  for (let i = 0; i < track.length; i++) gate.push(i * 20, 20, track[i]!);
  return { start, end };
}

const speech = (ms: number) => Array<number>(ms / 20).fill(1);
const quiet = (ms: number) => Array<number>(ms / 20).fill(0);

describe('SpeechGate', () => {
  it('reports the run from its first to its last speech frame once the hangover has passed', () => {
    const r = gateRuns([...quiet(200), ...speech(600), ...quiet(400)]);
    expect(r.start).toEqual([200]);
    expect(r.end).toEqual([[800, 600]]);
  });

  it('a short pause inside the hangover does not end the run', () => {
    const r = gateRuns([...quiet(100), ...speech(300), ...quiet(100), ...speech(300), ...quiet(400)]);
    expect(r.start).toEqual([100]);
    expect(r.end).toEqual([[800, 700]]);
  });

  it("takes the detector's end lag off the reported end (the endpointing counts from it)", () => {
    const r = gateRuns([...quiet(200), ...speech(600), ...quiet(400)], 60);
    expect(r.start).toEqual([200]);
    expect(r.end).toEqual([[740, 540]]);
  });

  it('never reports an end before the onset the run needed', () => {
    const r = gateRuns([...quiet(200), ...speech(80), ...quiet(400)], 200);
    expect(r.end).toEqual([[260, 60]]);
  });
});
