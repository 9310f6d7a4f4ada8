/**
 * The turn-taking unit driven frame by frame with real telephone speech (Debian's asterisk-core-sounds-en: one real
 * speaker, 8 kHz): VAD probabilities from the energy detector, ASR words given by the test at the point in the audio
 * where a recognizer would give them, tick() whenever the audio clock passes the unit's deadline. Assertions are on
 * the order of decisions and on state, never on milliseconds.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readWav } from '../../src/audio/wav.js';
import { isAcknowledgement } from '../../src/call/acknowledgement.js';
import { type TurnDecision, TurnTaking, turnTakingConfig } from '../../src/call/turn-taking.js';
import { EnergyVad } from '../../src/call/vad.js';

const SOUNDS = '/usr/share/asterisk/sounds/en';
const have = existsSync(`${SOUNDS}/auth-thankyou.wav`);

function speech(name: string): Int16Array {
  const w = readWav(readFileSync(`${SOUNDS}/${name}.wav`));
  expect(w.sampleRate).toBe(8000);
  return w.samples instanceof Int16Array ? w.samples : Int16Array.from(w.samples as ArrayLike<number>);
}

const silence = (ms: number) => new Int16Array(ms * 8);

/** A call's inbound side: audio clock, VAD, decisions in order, with the inputs interleaved as markers. */
class Line {
  readonly log: (TurnDecision | { type: 'input'; what: string })[] = [];
  readonly tt: TurnTaking;
  private readonly vad = new EnergyVad();
  t = 0;

  /** `react`: what the session does on a decision, at once (e.g. cut the agent on a barge-in). */
  constructor(settings: Parameters<typeof turnTakingConfig>[0] = {}, react?: (d: TurnDecision, line: Line) => void) {
    this.tt = new TurnTaking(turnTakingConfig(settings), (d) => {
      this.log.push(d);
      react?.(d, this);
    });
  }

  /** Feed PCM in 20 ms frames; tick whenever the clock passes the deadline. */
  play(pcm: Int16Array): void {
    for (let i = 0; i + 160 <= pcm.length; i += 160) {
      const f = pcm.subarray(i, i + 160);
      this.tt.frame(this.t, 20, this.vad.process(f));
      this.t += 20;
      const d = this.tt.deadline;
      if (d !== undefined && d <= this.t) this.tt.tick(this.t);
    }
  }

  agent(phase: 'quiet' | 'thinking' | 'speaking'): void {
    this.tt.agent(phase, this.t);
  }

  partial(text: string): void {
    this.log.push({ type: 'input', what: `partial:${text}` });
    this.tt.asrPartial(text);
  }

  /** A final; `wordsEndAt`: where its last word ends in the audio (a recognizer that gives word times). */
  final(text: string, wordsEndAt?: number): void {
    this.log.push({ type: 'input', what: `final:${text}` });
    this.tt.asrFinal(text, true, this.t, wordsEndAt);
  }

  /** Silence until the clock reaches `t` (the recognizer's answer comes then). */
  until(t: number): void {
    if (t > this.t) this.play(silence(Math.ceil((t - this.t) / 20) * 20));
  }

  commits(): string[] {
    return this.log.flatMap((d) => (d.type === 'commit' ? [d.turn.text] : []));
  }

  types(): string[] {
    return this.log.map((d) => (d.type === 'input' ? d.what : d.type));
  }

  index(type: string): number {
    return this.types().indexOf(type);
  }
}

describe.skipIf(!have)('turn-taking on real speech', () => {
  it('caller speech over the agent pauses it before the recognizer gives any word; real words then take the turn', () => {
    const line = new Line();
    line.agent('speaking');
    line.play(silence(400));
    const q = speech('conf-invalid');
    // The recognizer's first word comes late (after a second of speech), as a slow or offline one would.
    line.play(q.subarray(0, 8000));
    line.partial('that is not');
    line.play(q.subarray(8000));
    const types = line.types();
    expect(types).toContain('pause');
    expect(line.index('pause')).toBeLessThan(line.index('partial:that is not'));
    // The interruption was made real: by duration already, or at the latest by the words.
    expect(types).toContain('barge_in');
    expect(types).not.toContain('resume');
  });

  it('"thank you" over the agent: paused, then resumed; it never takes the turn', () => {
    const line = new Line();
    line.agent('speaking');
    line.play(silence(300));
    line.play(speech('auth-thankyou'));
    line.final('thank you');
    line.play(silence(1500));
    const types = line.types();
    expect(types).toContain('pause');
    expect(types).toContain('resume');
    expect(line.index('resume')).toBeGreaterThan(line.index('pause'));
    expect(types).not.toContain('barge_in');
    // On record as said over the agent (the session files it as a backchannel), not as a turn of its own.
    const commit = line.log.find((d) => d.type === 'commit');
    if (commit?.type === 'commit') expect(commit.overlap).toBe(true);
  });

  it('a short utterance the recognizer gives no words for ("goodbye", 0.9 s) pauses the agent, then resumes it', () => {
    const line = new Line();
    line.agent('speaking');
    line.play(silence(200));
    line.play(speech('vm-goodbye'));
    line.play(silence(1500));
    expect(line.types().filter((t) => t === 'pause' || t === 'resume' || t === 'barge_in')).toEqual([
      'pause',
      'resume',
    ]);
  });

  it('a short acknowledgement the recognizer mishears as words ("the head") still resumes; "wait" interrupts', () => {
    const misheard = new Line();
    misheard.agent('speaking');
    misheard.play(silence(200));
    misheard.play(speech('vm-goodbye'));
    misheard.final('the head');
    misheard.play(silence(1500));
    expect(misheard.types()).toContain('resume');
    expect(misheard.types()).not.toContain('barge_in');
    const stop = new Line();
    stop.agent('speaking');
    stop.play(silence(200));
    stop.play(speech('vm-goodbye'));
    stop.final('wait');
    stop.play(silence(1500));
    expect(stop.types()).toContain('barge_in');
    expect(stop.types()).not.toContain('resume');
  });

  it('with resumeAfterFalse off, a false interruption stops the agent instead of resuming', () => {
    const line = new Line({ interruption: { resumeAfterFalse: false } });
    line.agent('speaking');
    line.play(silence(200));
    line.play(speech('auth-thankyou'));
    line.play(silence(1500));
    const stop = line.log.find((d) => d.type === 'barge_in');
    expect(stop).toMatchObject({ type: 'barge_in', stop: true });
    expect(line.types()).not.toContain('resume');
  });

  it('uninterruptible speech (hold): caller speech neither pauses nor cuts the agent', () => {
    const line = new Line();
    line.agent('speaking');
    line.tt.hold(true);
    line.play(speech('conf-invalid'));
    line.partial('that is not a valid conference number');
    line.play(silence(600));
    expect(line.types()).not.toContain('pause');
    expect(line.types()).not.toContain('barge_in');
  });

  it('a 3.8 s question the recognizer could not make sense of is never met with silence', () => {
    const line = new Line();
    line.agent('quiet');
    line.play(silence(300));
    line.play(speech('conf-invalid'));
    // The recognizer's final is empty (garbled line); it gives words only at the end (offline): the wait for a late
    // final is long, then the caller is asked again.
    line.final('');
    line.play(silence(8000));
    const answered = line.log.filter((d) => d.type === 'commit' || d.type === 'unintelligible');
    expect(answered).toHaveLength(1);
    expect(answered[0]!.type).toBe('unintelligible');
  });

  it('the same question heard with words is one turn', () => {
    const line = new Line();
    line.agent('quiet');
    line.play(speech('conf-invalid'));
    line.final('that is not a valid conference number please try again');
    line.play(silence(2000));
    const commits = line.log.filter((d) => d.type === 'commit');
    expect(commits).toHaveLength(1);
    expect(line.types()).not.toContain('unintelligible');
  });

  it('a 260 ms pause between two sentences: the caller is not talked over, and the answer is to both', () => {
    const line = new Line();
    // The session's side: a commit starts a reply (thinking, nothing audible yet); a barge-in while thinking takes
    // the committed turn back into the turn in progress.
    const answered: string[] = [];
    let pending = '';
    const tt = line.tt;
    const decide = (d: TurnDecision): void => {
      if (d.type === 'commit') {
        pending = d.turn.text;
        line.agent('thinking');
      } else if (d.type === 'barge_in') {
        tt.bargedIn(line.t, pending);
        pending = '';
      }
    };
    line.agent('quiet');
    const feed = (pcm: Int16Array) => {
      const before = line.log.length;
      line.play(pcm);
      for (const d of line.log.slice(before)) if (d.type !== 'input') decide(d);
    };
    feed(speech('vm-nomore'));
    line.final('no more messages.');
    feed(silence(260));
    feed(speech('dir-welcome'));
    line.final('welcome to the directory.');
    feed(silence(2500));
    if (pending) answered.push(pending);
    // One answer, to both sentences; no agent audio was ever started (never 'speaking'), so nobody was talked over.
    expect(answered).toEqual(['no more messages. welcome to the directory.']);
    expect(line.types()).not.toContain('pause');
  });

  it('a caller who goes on while the reply is prepared takes it back before any of it is heard', () => {
    const line = new Line();
    line.agent('quiet');
    line.play(speech('vm-nomore'));
    line.final('where are my messages?');
    line.play(silence(600));
    expect(line.types()).toContain('commit');
    // The session starts a reply (nothing audible yet); the caller goes on.
    line.agent('thinking');
    line.play(speech('dir-welcome'));
    const after = line.types().slice(line.index('commit'));
    expect(after).toContain('barge_in');
    expect(after).not.toContain('pause');
  });

  it('60 s of nonstop talk gives bounded turns', () => {
    const line = new Line({ maxUtteranceMs: 15_000 });
    line.agent('quiet');
    const talk = speech('vm-instructions');
    let words = 0;
    while (line.t < 60_000) {
      // The caller never pauses: speech back to back, the recognizer's partials growing as it goes.
      line.play(talk);
      words += 10;
      line.partial(Array.from({ length: words }, (_, i) => `word${i}`).join(' '));
    }
    const commits = line.log.filter((d) => d.type === 'commit');
    expect(commits.length).toBeGreaterThanOrEqual(3);
    let last = 0;
    for (const c of commits) {
      if (c.type !== 'commit') continue;
      // Bounded: a turn never runs past maxUtteranceMs (frame granularity aside).
      expect(c.turn.committedAt - last).toBeLessThanOrEqual(15_000 + 100);
      last = c.turn.committedAt;
    }
  });

  it('silence only and line noise only: no pause, no barge-in, no turn', () => {
    const quiet = new Line();
    quiet.agent('speaking');
    quiet.play(silence(10_000));
    expect(quiet.log).toEqual([]);
    const noisy = new Line();
    noisy.agent('speaking');
    // Line hiss around -50 dBFS.
    const hiss = new Int16Array(8000 * 10);
    let seed = 1;
    for (let i = 0; i < hiss.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      hiss[i] = ((seed / 0x7fffffff) * 2 - 1) * 100;
    }
    noisy.play(hiss);
    expect(noisy.types().filter((t) => t !== 'speech_end')).toEqual([]);
  });

  it('a phone number read with 800 / 600 ms hesitations is one turn: punctuation and digit groups keep it open', () => {
    const line = new Line();
    line.agent('quiet');
    const digits = (ds: string[]) => ds.map((d) => speech(`digits/${d}`));
    const group = (ds: string[], final: string) => {
      for (const pcm of digits(ds)) line.play(pcm);
      // The recognizer's final for the group, about 200 ms after its end, as a streaming one gives it.
      line.until(line.t + 200);
      line.final(final);
    };
    group(['5', '5', '5'], 'Five five five,');
    line.until(line.t + 600);
    group(['0', '1'], 'zero one');
    line.until(line.t + 400);
    group(['2', '3', '4', '5'], 'two three four five.');
    line.play(silence(2000));
    expect(line.commits()).toEqual(['Five five five, zero one two three four five.']);
    // The turn ended by "." commits after the shortest wait: before the trailing wait (maxDelayMs) is over.
    const c = line.log.find((d) => d.type === 'commit');
    expect(c?.type === 'commit' && c.turn.completeness).toBe('complete');
    expect(c?.type === 'commit' && c.turn.committedAt - c.turn.speechEndAt).toBeLessThan(1500);
  });

  it('preemptive generation: prepared on words that look finished, dropped when the caller goes on', () => {
    // A long endpointing wait (the caller's pause below stays inside it).
    const line = new Line({ endpointing: { minDelayMs: 900 } });
    line.agent('quiet');
    line.play(speech('vm-nomore'));
    line.until(line.t + 200);
    line.final('There are no more messages.');
    line.play(silence(40));
    // Prepared while endpointing still waits: no commit yet.
    expect(line.types().slice(-2)).toEqual(['final:There are no more messages.', 'prepare']);
    line.play(speech('dir-welcome'));
    const afterPrepare = line.types().slice(line.index('prepare'));
    expect(afterPrepare.indexOf('discard')).toBeGreaterThan(0);
    expect(afterPrepare.indexOf('discard')).toBeLessThan(afterPrepare.indexOf('speech_start'));
    expect(afterPrepare).not.toContain('commit');
    line.until(line.t + 200);
    line.final('Welcome to the directory.');
    line.play(silence(2000));
    // Prepared again on the whole turn, then committed: the session adopts the reply whose words match.
    const tail = line.types().slice(line.index('final:Welcome to the directory.'));
    expect(tail.filter((t) => t === 'prepare' || t === 'commit' || t === 'discard')).toEqual(['prepare', 'commit']);
    expect(line.commits()).toEqual(['There are no more messages. Welcome to the directory.']);
  });

  it('preemptive generation: nothing is prepared on trailing words, nor with the setting off', () => {
    const trailing = new Line();
    trailing.agent('quiet');
    trailing.play(speech('vm-nomore'));
    trailing.until(trailing.t + 200);
    trailing.final('I would like to speak to,');
    trailing.play(silence(2000));
    expect(trailing.types()).not.toContain('prepare');
    expect(trailing.types()).toContain('commit');
    const off = new Line({ preemptiveGeneration: false });
    off.agent('quiet');
    off.play(speech('vm-nomore'));
    off.until(off.t + 200);
    off.final('There are no more messages.');
    off.play(silence(2000));
    expect(off.types()).not.toContain('prepare');
    expect(off.types()).toContain('commit');
  });

  it('preemptive generation: not on an interim short of a sentence end (its final lags); on the final, or an interim that ends a sentence', () => {
    const line = new Line({ endpointing: { minDelayMs: 900 } });
    line.tt.recognizer({ interim: true });
    line.agent('quiet');
    line.play(speech('vm-nomore'));
    line.partial('There are no more');
    line.play(silence(300));
    // The caller is quiet, the words do not trail off, but they are an interim without a sentence end: no request.
    expect(line.types()).not.toContain('prepare');
    line.final('There are no more messages.');
    line.play(silence(40));
    expect(line.types().slice(-2)).toEqual(['final:There are no more messages.', 'prepare']);
    const punctuated = new Line({ endpointing: { minDelayMs: 900 } });
    punctuated.tt.recognizer({ interim: true });
    punctuated.agent('quiet');
    punctuated.play(speech('vm-nomore'));
    punctuated.partial('There are no more messages.');
    punctuated.play(silence(300));
    expect(punctuated.types().filter((t) => t === 'prepare')).toHaveLength(1);
  });

  it('with a recognizer that sends eager ends of turn (Flux), replies are prepared on those alone', () => {
    const line = new Line({ endpointing: { minDelayMs: 900 } });
    line.tt.recognizer({ interim: true, endOfTurn: true, eagerEndOfTurn: true });
    line.agent('quiet');
    line.play(speech('vm-nomore'));
    line.partial('There are no more messages.');
    line.play(silence(300));
    expect(line.types()).not.toContain('prepare');
    line.tt.asrEagerEnd('There are no more messages.');
    expect(line.types().filter((t) => t === 'prepare')).toHaveLength(1);
  });

  it('Flux: its end of turn over the paused agent commits at once once its words make the interruption real', () => {
    // The session on a barge-in: the agent is cut and the caller's speech goes on as their turn.
    const line = new Line({ endpointing: { minDelayMs: 3000, maxDelayMs: 5000 } }, (d, l) => {
      if (d.type === 'barge_in') l.tt.bargedIn(l.t, undefined);
    });
    line.tt.recognizer({ interim: true, endOfTurn: true });
    line.agent('speaking');
    line.play(silence(200));
    line.play(speech('conf-invalid').subarray(0, 4000));
    expect(line.types()).toContain('pause');
    expect(line.types()).not.toContain('barge_in');
    // The recognizer's first words are its EndOfTurn (no interim before it).
    line.final('Stop right there.');
    line.play(silence(200));
    const t = line.types().slice(line.index('final:Stop right there.'));
    expect(t.filter((x) => x === 'barge_in' || x === 'commit')).toEqual(['barge_in', 'commit']);
    expect(line.commits()).toEqual(['Stop right there.']);
  });

  it("the recognizer's eager end of turn prepares a reply; its turn_resumed drops it", () => {
    const line = new Line();
    line.agent('quiet');
    line.play(speech('vm-nomore'));
    line.tt.asrEagerEnd('there are no more messages');
    line.tt.asrTurnResumed();
    line.tt.asrEagerEnd('there are no more messages');
    expect(line.types().filter((t) => t === 'prepare' || t === 'discard')).toEqual(['prepare', 'discard', 'prepare']);
  });

  it('after "What is your phone number?", digit groups the recognizer mishears (no digits, no punctuation) are one turn', () => {
    const read = (asked: string | undefined): string[] => {
      const line = new Line();
      if (asked) line.tt.agentSaid(asked);
      line.agent('quiet');
      const group = (ds: string[], heard: string, pause: number) => {
        for (const d of ds) line.play(speech(`digits/${d}`));
        const end = line.t;
        // An end-only recognizer's final (with word times), 500 ms after the group: before the caller goes on.
        line.until(end + 500);
        line.final(heard, end - 100);
        line.until(end + pause);
      };
      group(['5', '5', '5'], 'funny that i knew that i even', 800);
      group(['0', '1'], 'the era', 600);
      group(['2', '3', '4', '5'], 'to the meatball are lying', 2500);
      return line.commits();
    };
    expect(read('Hello, this is Acme support. What is your phone number?')).toEqual([
      'funny that i knew that i even the era to the meatball are lying',
    ]);
    // Without the question the same words and pauses end the turn at the first hesitation: the question is the cue.
    expect(read('Hello, this is Acme. How can I help?').length).toBeGreaterThan(1);
  });

  it("an end-only recognizer: a late final of the caller's earlier words does not end the turn, nor does its utterance end", () => {
    const line = new Line();
    line.agent('quiet');
    line.play(speech('vm-nomore'));
    const firstEnd = line.t;
    line.play(silence(700));
    line.play(speech('dir-welcome'));
    // The recognizer runs behind: the first sentence's words (they end where it ended) come as the caller goes on
    // and after, with its utterance end; the turn waits for the words of the second.
    line.final('no more messages', firstEnd - 100);
    line.tt.utteranceEnd(line.t);
    const secondEnd = line.t;
    line.until(secondEnd + 900);
    expect(line.commits()).toEqual([]);
    line.final('welcome to the directory', secondEnd - 100);
    line.play(silence(1500));
    expect(line.commits()).toEqual(['no more messages welcome to the directory']);
  });

  it('a recognizer without word times whose final comes in the VAD hangover: the turn ends at the usual delay', () => {
    // The final came after the caller's last voiced frame, so it is of this run; nothing is left to wait for.
    const said = speech('vm-nomore');
    const audio = new Int16Array(said.length + 8000);
    audio.set(said);
    // A dry run finds the frame at which the VAD ends the run; the final then comes one frame before it, in the
    // hangover that follows the last voiced frame.
    const dry = new Line();
    dry.agent('quiet');
    let endFrame = -1;
    for (let i = 0; i + 160 <= audio.length && endFrame < 0; i += 160) {
      dry.play(audio.subarray(i, i + 160));
      if (dry.types().includes('speech_end')) endFrame = i / 160;
    }
    expect(endFrame).toBeGreaterThan(0);
    const run = (finalInHangover: boolean): string[] => {
      const line = new Line();
      line.agent('quiet');
      line.play(audio.subarray(0, (endFrame - 1) * 160));
      expect(line.types()).not.toContain('speech_end');
      if (finalInHangover) line.final('no more messages');
      line.play(silence(700)); // past the usual endpointing delay, short of maxDelayMs
      line.log.push({ type: 'input', what: 'mark' });
      if (!finalInHangover) line.final('no more messages');
      line.play(silence(2000));
      return line.types().filter((t) => t === 'commit' || t === 'mark');
    };
    expect(run(true)).toEqual(['commit', 'mark']);
    // Its final only after the delay: the turn waits for it (it never commits without words).
    expect(run(false)).toEqual(['mark', 'commit']);
  });

  it('a late final of words already committed from their partial is not a second turn; the same words said again are', () => {
    const line = new Line();
    line.agent('quiet');
    const said = speech('vm-nomore');
    line.play(said.subarray(0, said.length >> 1));
    line.partial('no more messages');
    line.play(said.subarray(said.length >> 1));
    line.play(silence(1500)); // the final lags: the turn is committed on the partial
    expect(line.commits()).toEqual(['no more messages']);
    line.final('no more messages'); // ... and arrives now, with no speech since
    line.play(silence(3000));
    expect(line.commits()).toEqual(['no more messages']);
    // The caller says it again: a new turn.
    line.play(said);
    line.final('no more messages');
    line.play(silence(3000));
    expect(line.commits()).toEqual(['no more messages', 'no more messages']);
  });

  it('a short "thank you" the recognizer guesses as three words ("and he is") is still an acknowledgement', () => {
    // Guessed (low confidence) or late (after the agent resumed): up to three words of a short overlap.
    expect(isAcknowledgement('and he is', 640, { confidence: 0.37 })).toBe(true);
    expect(isAcknowledgement('and he is', 640, { late: true })).toBe(true);
    // Heard with confidence, three words are a request ("sure go ahead"); longer speech, more words, or a word that
    // asks the agent to stop is never one.
    expect(isAcknowledgement('sure go ahead', 600, { confidence: 0.95 })).toBe(false);
    expect(isAcknowledgement('sure go ahead', 600)).toBe(false);
    expect(isAcknowledgement('and he is', 1200, { confidence: 0.37 })).toBe(false);
    expect(isAcknowledgement('what about the premium plan', 700, { confidence: 0.3 })).toBe(false);
    expect(isAcknowledgement('wait a second', 600, { confidence: 0.3 })).toBe(false);
    // Over the agent, in the pause: the guessed words do not make the interruption real; it resumes.
    const paused = new Line();
    paused.agent('speaking');
    paused.play(silence(300));
    paused.play(speech('auth-thankyou'));
    paused.play(silence(300));
    paused.tt.asrFinal('and he is', true, paused.t, undefined, 0.37);
    paused.play(silence(1500));
    expect(paused.types()).toContain('resume');
    expect(paused.types()).not.toContain('barge_in');
    // The words come after the agent resumed: the commit says so, and with the overlap's length it is one.
    const line = new Line();
    line.agent('speaking');
    line.play(silence(300));
    line.play(speech('auth-thankyou'));
    line.play(silence(1500));
    line.final('and he is');
    line.play(silence(1500));
    expect(line.types()).toContain('resume');
    expect(line.types()).not.toContain('barge_in');
    const c = line.log.find((d) => d.type === 'commit');
    expect(c).toMatchObject({ type: 'commit', overlap: true, resumed: true });
    expect(c?.type === 'commit' && isAcknowledgement(c.turn.text, c.voicedMs, { late: c.resumed })).toBe(true);
  });

  it('a recognizer that lags by seconds (a loaded offline one): its late final is a turn, not a reprompt', () => {
    const line = new Line();
    line.agent('quiet');
    // The first utterance's final comes 3 s after the speech: the unit learns how slow the recognizer is.
    line.play(speech('vm-nomore'));
    line.until(line.t + 3000);
    line.final('no more messages');
    line.play(silence(1000));
    expect(line.commits()).toEqual(['no more messages']);
    line.agent('quiet');
    // The second one's final is as late; without words for 3.5 s the unit would have given up on it.
    line.play(speech('dir-welcome'));
    line.until(line.t + 3600);
    line.final('welcome to the directory');
    line.play(silence(1000));
    expect(line.types()).not.toContain('unintelligible');
    expect(line.commits()).toEqual(['no more messages', 'welcome to the directory']);
  });

  it('music on hold alone (no words) with the agent quiet: reprompts, never a turn', () => {
    const w = readWav(readFileSync('/usr/share/asterisk/moh/macroform-cold_day.wav'));
    const moh = w.samples instanceof Int16Array ? w.samples : Int16Array.from(w.samples as ArrayLike<number>);
    const line = new Line();
    line.agent('quiet');
    line.play(moh.subarray(0, Math.min(moh.length, 8000 * 20)));
    line.play(silence(8000));
    expect(line.types()).not.toContain('commit');
    expect(line.types().filter((t) => t === 'unintelligible').length).toBeGreaterThanOrEqual(1);
  });

  it('music on hold under the agent: a recognizer that streams words gives none, so the agent resumes', () => {
    const w = readWav(readFileSync('/usr/share/asterisk/moh/macroform-cold_day.wav'));
    const moh = w.samples instanceof Int16Array ? w.samples : Int16Array.from(w.samples as ArrayLike<number>);
    const streaming = new Line();
    streaming.tt.recognizer({ interim: true });
    streaming.agent('speaking');
    streaming.play(moh.subarray(0, 8000 * 8));
    const decisions = streaming.types().filter((t) => t === 'pause' || t === 'resume' || t === 'barge_in');
    expect(decisions.slice(0, 2)).toEqual(['pause', 'resume']);
    expect(decisions).not.toContain('barge_in');
    // Words over the music still interrupt.
    streaming.partial('I need to speak to someone about my bill');
    expect(streaming.types().at(-1)).toBe('barge_in');
    // A recognizer that gives words only at the end (offline): speech that lasts is taken as an interruption.
    const batch = new Line();
    batch.agent('speaking');
    batch.play(moh.subarray(0, 8000 * 8));
    expect(batch.types()).toContain('barge_in');
  });
  it("the recognizer's end of turn (Flux EndOfTurn) commits at once: trailing words, the VAD's hangover not waited for", () => {
    const run = (endOfTurn: boolean): string[] => {
      const line = new Line();
      line.tt.recognizer({ interim: true, endOfTurn });
      line.agent('quiet');
      // Cut mid-speech: the VAD still hears the caller (its hangover) when the recognizer ends the turn.
      line.play(speech('conf-invalid').subarray(0, 8000));
      line.partial('my number is');
      line.tt.asrFinal('my number is', true, line.t);
      line.play(silence(4000));
      expect(line.commits()).toEqual(['my number is']);
      expect(line.types()).not.toContain('unintelligible');
      return line.types().filter((t) => t === 'commit' || t === 'speech_end');
    };
    // The commit comes before the VAD's own end of speech...
    expect(run(true)).toEqual(['commit', 'speech_end']);
    // ...where without the capability trailing words wait for it, then for the longest endpointing delay.
    expect(run(false)).toEqual(['speech_end', 'commit']);
  });

  it("over a paused agent the recognizer's end of turn does not bypass the interruption policy", () => {
    const line = new Line();
    line.tt.recognizer({ interim: true, endOfTurn: true });
    line.agent('speaking');
    line.play(silence(300));
    line.play(speech('auth-thankyou'));
    line.tt.asrFinal('thank you', true, line.t);
    line.play(silence(1500));
    expect(line.types()).toContain('pause');
    expect(line.types()).toContain('resume');
    expect(line.types()).not.toContain('barge_in');
  });
});

describe('words where the VAD heard no speech (a VAD that rejects music and noise)', () => {
  /** Drives the unit with speech probabilities directly: `p` for `ms` from the current clock, ticking deadlines. */
  class Probe {
    readonly log: TurnDecision[] = [];
    readonly tt = new TurnTaking(turnTakingConfig({}), (d) => this.log.push(d));
    t = 0;
    run(p: number, ms: number): void {
      for (let end = this.t + ms; this.t < end; this.t += 20) {
        this.tt.frame(this.t, 20, p);
        const d = this.tt.deadline;
        if (d !== undefined && d <= this.t + 20) this.tt.tick(this.t + 20);
      }
    }
    types(): string[] {
      return this.log.map((d) => d.type);
    }
    commits(): string[] {
      return this.log.flatMap((d) => (d.type === 'commit' ? [d.turn.text] : []));
    }
  }

  it('a final timed over music (no speech run there) is dropped: no turn, no reprompt', () => {
    const p = new Probe();
    p.tt.detector({ rejectsNoise: true });
    // 3 s of music the VAD does not call speech; the recognizer makes words of it.
    p.run(0, 3000);
    p.tt.asrFinal('it out to an', true, p.t, 2400, 0.3, 1200);
    p.run(0, 10_000);
    expect(p.tt.noiseWords).toBe(1);
    expect(p.commits()).toEqual([]);
    expect(p.types()).not.toContain('unintelligible');
    // Then the caller speaks: words timed over that speech are a turn.
    p.run(1, 1500);
    p.run(0, 200);
    p.tt.asrFinal('which folder should I save the message to', true, p.t, p.t - 250, 0.5, 13_050);
    p.run(0, 3000);
    expect(p.commits()).toEqual(['which folder should I save the message to']);
  });

  it('words that reach into a speech run (within the margin) are kept, and so are words in one in progress', () => {
    const p = new Probe();
    p.tt.detector({ rejectsNoise: true });
    p.run(0, 1000);
    p.run(1, 800);
    p.run(0, 300);
    // The recognizer's words end 200 ms before the VAD's run started (clock skew, a soft onset): the same speech.
    p.tt.asrFinal('hello there', true, p.t, 1000 - 200, 0.5, 400);
    p.run(0, 3000);
    expect(p.commits()).toEqual(['hello there']);
    p.run(1, 600);
    p.tt.asrFinal('and another thing', true, p.t, p.t - 100, 0.5, p.t - 500);
    p.run(1, 200);
    p.run(0, 3000);
    expect(p.commits()).toEqual(['hello there', 'and another thing']);
  });

  it('with a VAD that does not reject noise, words the VAD missed still make a turn', () => {
    const p = new Probe();
    p.run(0, 3000);
    p.tt.asrFinal('a quiet caller', true, p.t, 2400, 0.5, 1200);
    p.run(0, 10_000);
    expect(p.tt.noiseWords).toBe(0);
    expect(p.commits()).toEqual(['a quiet caller']);
  });
});
