import { describe, expect, it } from 'vitest';
import { amdClips, runClip } from '../../bench/amd.js';
import { AMD_DEFAULTS, AmdDetector, carrierAnsweredBy } from '../../src/amd/detector.js';
import { machineWords } from '../../src/amd/words.js';

const FRAME = 160;
const quiet = new Int16Array(FRAME);

/** A 1 kHz tone frame at -12 dBFS peak, phase-continuous across frames. */
function toneFrames(ms: number, hz = 1000): Int16Array[] {
  const out: Int16Array[] = [];
  let n = 0;
  for (let f = 0; f < ms / 20; f++) {
    const fr = new Int16Array(FRAME);
    for (let i = 0; i < FRAME; i++, n++) fr[i] = Math.round(8200 * Math.sin((2 * Math.PI * hz * n) / 8000));
    out.push(fr);
  }
  return out;
}

/** Drive the detector with a script of (ms, speech probability) runs of quiet audio. */
function drive(amd: AmdDetector, script: [ms: number, p: number][]) {
  for (const [ms, p] of script) for (let t = 0; t < ms; t += 20) amd.frame(quiet, p);
  return amd.decision;
}

describe('AmdDetector (pure, frame by frame)', () => {
  it('a short "Hello?" then silence is a human, decided after the after-greeting silence', () => {
    const d = drive(new AmdDetector(), [
      [600, 0],
      [600, 1],
      [2000, 0],
    ]);
    expect(d).toEqual({
      answeredBy: 'human',
      reason: 'greeting_short',
      atMs: 1200 + AMD_DEFAULTS.afterGreetingSilenceMs,
    });
  });

  it('two short greetings with a breath between them are one person', () => {
    const d = drive(new AmdDetector(), [
      [300, 0],
      [500, 1],
      [500, 0],
      [1200, 1],
      [1000, 0],
    ]);
    expect(d?.answeredBy).toBe('human');
  });

  it('long continuous speech is a machine once the greeting passes maxGreetingMs', () => {
    const amd = new AmdDetector();
    const d = drive(amd, [
      [500, 0],
      [5000, 1],
    ]);
    expect(d).toEqual({ answeredBy: 'machine', reason: 'greeting_long', atMs: 500 + AMD_DEFAULTS.maxGreetingMs });
    // The greeting goes on: no cue for the message yet; then 1.5 s of silence ends it.
    expect(amd.messageCue).toBeUndefined();
    drive(amd, [[AMD_DEFAULTS.endOfGreetingSilenceMs, 0]]);
    expect(amd.messageCue).toBe('silence');
  });

  it('decides by maxDecisionMs: talking -> machine, nothing said -> unknown', () => {
    const talking = drive(new AmdDetector({ maxGreetingMs: 10_000 }), [
      [1000, 0],
      [4000, 1],
    ]);
    expect(talking).toEqual({ answeredBy: 'machine', reason: 'timeout_talking', atMs: 4000 });
    const silent = drive(new AmdDetector(), [[6000, 0]]);
    expect(silent).toEqual({ answeredBy: 'unknown', reason: 'timeout_silent', atMs: 4000 });
    // Clicks shorter than minSpeechMs are not a greeting.
    const clicks = drive(new AmdDetector(), [
      [500, 0],
      [60, 1],
      [4000, 0],
    ]);
    expect(clicks?.answeredBy).toBe('unknown');
  });

  it('a beep is a machine at once, and the message is cued at the end of the beep', () => {
    const amd = new AmdDetector();
    drive(amd, [
      [300, 0],
      [1000, 1],
      [200, 0],
    ]);
    expect(amd.decision).toBeUndefined();
    const beep = toneFrames(500);
    beep.forEach((f, i) => {
      amd.frame(f, 1);
      // The VAD calls a tone speech; it is not greeting.
      if (i < 5) expect(amd.decision).toBeUndefined();
    });
    expect(amd.decision).toMatchObject({ answeredBy: 'machine', reason: 'beep' });
    expect(amd.decision!.atMs).toBeGreaterThanOrEqual(1500 + 120);
    expect(amd.messageCue).toBeUndefined(); // the beep is still playing
    amd.frame(quiet, 0);
    expect(amd.messageCue).toBe('beep');
    expect(amd.beepEndMs).toBe(2000);
  });

  it('after a machine verdict, a beep that comes later cues the message at its end', () => {
    const amd = new AmdDetector();
    drive(amd, [
      [500, 0],
      [3500, 1],
    ]);
    expect(amd.decision?.answeredBy).toBe('machine');
    drive(amd, [[400, 0]]);
    expect(amd.messageCue).toBeUndefined();
    for (const f of toneFrames(300, 600)) amd.frame(f, 1);
    amd.frame(quiet, 0);
    expect(amd.messageCue).toBe('beep');
  });

  it('voicemail words decide machine; carrier verdicts are taken as they are', () => {
    const amd = new AmdDetector();
    expect(amd.words('hi')).toBeUndefined();
    expect(amd.words("Hi, you've reached Sam, please LEAVE a message")).toMatchObject({
      answeredBy: 'machine',
      reason: 'words',
    });
    expect(amd.carrier('human')).toBeUndefined(); // decided already
    expect(new AmdDetector().carrier('machine_end_beep')).toMatchObject({ answeredBy: 'machine', reason: 'carrier' });
    expect(new AmdDetector().carrier('human')).toMatchObject({ answeredBy: 'human', reason: 'carrier' });
    expect(new AmdDetector().carrier('unknown')).toBeUndefined();
    expect(carrierAnsweredBy('fax')).toBe('machine');
    expect(carrierAnsweredBy('machine_start')).toBe('machine');
    expect(carrierAnsweredBy('whatever')).toBeUndefined();
  });

  it('voicemail phrases match whole words only', () => {
    expect(machineWords('the person you are calling is not available')).toBe(true);
    expect(machineWords('Please record your message after the tone.')).toBe(true);
    expect(machineWords("I can't take your call right now")).toBe(true);
    expect(machineWords('yes I can take it')).toBe(false);
    expect(machineWords('hello who is this')).toBe(false);
    expect(machineWords('mailboxes')).toBe(false);
  });
});

describe('AmdDetector on the recorded answers (WebRTC VAD, real speech)', () => {
  const clips = amdClips(['fixtures/amd', 'fixtures/amd/set']);
  it('has the replay fixtures and the larger set', () => {
    expect(clips.length).toBeGreaterThanOrEqual(30);
  });
  it.each(clips.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const r = await runClip(c.wav, c.scenario);
    expect(r.answered_by).toBe(c.scenario.expect!.answeredBy);
    expect(r.amd_ms).toBeLessThanOrEqual(AMD_DEFAULTS.maxDecisionMs);
    if (r.message_after_beep_ms !== undefined) expect(r.message_after_beep_ms).toBeLessThanOrEqual(100);
  });
});
