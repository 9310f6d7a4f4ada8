/**
 * Real-speech callers for the benches: the caller utterances of the committed real-speech fixtures
 * (fixtures/calls/real-*.wav + .json, one real human speaker from Debian's asterisk-core-sounds-en), cut out as
 * 20 ms mu-law frames with the line noise and pauses they were recorded with.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readWav } from '../src/audio/wav.js';

export type UtteranceKind = 'question' | 'barge-in' | 'acknowledgement' | 'hesitation' | 'two-sentences';

export interface RealUtterance {
  kind: UtteranceKind;
  /** The fixture it comes from. */
  from: string;
  /** What is said, one entry per part (a hesitant or two-sentence turn has several parts). */
  parts: { text: string; startMs: number; endMs: number }[];
  /** mu-law 8 kHz, whole 20 ms frames, from the first part's start to the last part's end (pauses included). */
  mulaw: Uint8Array;
}

interface FixtureEvent {
  type: string;
  text?: string;
  role?: string;
  startMs: number;
  endMs: number;
}

/** fixtures/calls from src/.. or dist/.. (the package root holds fixtures/). */
function callsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const p = path.join(dir, 'fixtures', 'calls');
    if (existsSync(path.join(p, 'real-question.json'))) return p;
    dir = path.dirname(dir);
  }
  throw new Error('real-speech fixtures not found (fixtures/calls/real-*.json)');
}

async function turnsOf(name: string): Promise<{ events: FixtureEvent[]; data: Uint8Array }> {
  const dir = callsDir();
  const json = JSON.parse(await readFile(path.join(dir, `${name}.json`), 'utf8')) as { events: FixtureEvent[] };
  const wav = readWav(await readFile(path.join(dir, `${name}.wav`)));
  if (wav.encoding !== 'mulaw' || wav.sampleRate !== 8000) throw new Error(`${name}.wav: expected 8 kHz mu-law`);
  return { events: json.events, data: wav.data };
}

function cut(data: Uint8Array, parts: FixtureEvent[]): Uint8Array {
  const start = Math.floor((parts[0]!.startMs * 8) / 160) * 160;
  const end = Math.ceil((parts.at(-1)!.endMs * 8) / 160) * 160;
  return data.slice(start, Math.min(end, data.length));
}

function utterance(kind: UtteranceKind, from: string, data: Uint8Array, parts: FixtureEvent[]): RealUtterance {
  const t0 = Math.floor((parts[0]!.startMs * 8) / 160) * 20;
  return {
    kind,
    from,
    parts: parts.map((p) => ({ text: p.text ?? '', startMs: p.startMs - t0, endMs: p.endMs - t0 })),
    mulaw: cut(data, parts),
  };
}

/** Caller turns of a fixture: runs of speech events whose parts before the last have role `continues`. */
function turns(events: FixtureEvent[]): FixtureEvent[][] {
  const out: FixtureEvent[][] = [];
  let cur: FixtureEvent[] = [];
  for (const e of events) {
    if (e.type !== 'speech') continue;
    cur.push(e);
    if (e.role !== 'continues') {
      out.push(cur);
      cur = [];
    }
  }
  return out;
}

export interface RealSpeechSet {
  questions: RealUtterance[];
  bargeIns: RealUtterance[];
  acknowledgements: RealUtterance[];
  hesitations: RealUtterance[];
  twoSentences: RealUtterance[];
}

export async function loadRealSpeech(): Promise<RealSpeechSet> {
  const set: RealSpeechSet = { questions: [], bargeIns: [], acknowledgements: [], hesitations: [], twoSentences: [] };
  for (const name of ['real-question', 'real-noisy-line']) {
    const { events, data } = await turnsOf(name);
    for (const t of turns(events)) set.questions.push(utterance('question', name, data, t));
  }
  {
    const { events, data } = await turnsOf('real-barge-in');
    for (const t of turns(events)) set.bargeIns.push(utterance('barge-in', 'real-barge-in', data, t));
  }
  {
    const { events, data } = await turnsOf('real-acknowledgement');
    for (const t of turns(events))
      set.acknowledgements.push(utterance('acknowledgement', 'real-acknowledgement', data, t));
  }
  {
    const { events, data } = await turnsOf('real-hesitant');
    for (const t of turns(events)) set.hesitations.push(utterance('hesitation', 'real-hesitant', data, t));
  }
  {
    const { events, data } = await turnsOf('real-two-sentences');
    for (const t of turns(events)) set.twoSentences.push(utterance('two-sentences', 'real-two-sentences', data, t));
  }
  return set;
}
