/**
 * Checks a replayed call against a scenario's `expect` block (fixtures/scenario.ts ExpectSchema). What the engine
 * did is known exactly for an in-process engine (its call summary); against a remote engine only what the wire
 * shows can be checked, and anything else is reported as not checkable rather than passed.
 */
export interface ExpectLike {
  digits?: string;
  tools?: string[];
  hangup?: string;
  agentSays?: string[];
  agentNeverSays?: string[];
  minTurns?: number;
  maxTurns?: number;
  minBargeIns?: number;
  maxBargeIns?: number;
  answerWithinMs?: number;
  noPrematureCut?: boolean;
  bargeInStopMs?: number;
  acknowledgementResumeMs?: number;
  answeredBy?: string;
  messageAfterBeepWithinMs?: number;
}

/** The scenario's timed events (fixtures/scenario.ts), ms into the recording. */
export interface CallerEvent {
  type: string;
  startMs: number;
  endMs: number;
  role?: string;
  text?: string;
}

/** What the caller heard: agent audio after clears, one flag per 20 ms frame of the call timeline. */
export interface HeardAudio {
  audible: Uint8Array;
  /** Call-timeline ms at which the recording reached `fileMs` (replay paces the file; --fast skips silence). */
  callMs(fileMs: number): number;
}

export interface ReplayOutcome {
  endedBy?: string;
  endReason?: string;
  turns?: number;
  bargeIns?: number;
  digits?: string[];
  tools?: string[];
  transcript: {
    role: 'user' | 'assistant';
    text: string;
    turn: number;
    atMs: number;
    interrupted?: boolean;
    latency?: string;
  }[];
  agentText?: string[];
  latency: { voiceToVoiceMs: number[]; endpointingMs: number[]; clientVoiceToVoiceMs: number[] };
  /** The call record's `answered_by` (voicemail detection), when the engine reports one. */
  answeredBy?: string;
  heard?: HeardAudio;
}

export interface CheckResult {
  ok: boolean;
  checked: string[];
  failures: string[];
}

/** `want` appears in `got` in order (other items may come between). */
function subsequence(want: string[], got: string[]): boolean {
  let i = 0;
  for (const g of got) if (g === want[i]) i++;
  return i === want.length;
}

export function checkExpectations(e: ExpectLike, o: ReplayOutcome, events: readonly CallerEvent[] = []): CheckResult {
  const checked: string[] = [];
  const failures: string[] = [];
  const unknown = (what: string): void => {
    failures.push(`${what}: not checkable from this replay (use the in-process engine or the native protocol)`);
  };
  if (e.digits !== undefined) {
    if (!o.digits) unknown('digits');
    else if (o.digits.includes(e.digits)) checked.push(`digits ${e.digits}`);
    else failures.push(`digits: expected ${e.digits} collected, got [${o.digits.join(', ')}]`);
  }
  if (e.tools?.length) {
    if (!o.tools) unknown('tools');
    else if (subsequence(e.tools, o.tools)) checked.push(`tools ${e.tools.join(' > ')}`);
    else failures.push(`tools: expected ${e.tools.join(' > ')}, called [${o.tools.join(', ')}]`);
  }
  if (e.hangup !== undefined) {
    if (o.endedBy === e.hangup) checked.push(`hangup ${e.hangup}`);
    else
      failures.push(
        `hangup: expected the call to end by ${e.hangup}, it ended by ${o.endedBy ?? 'unknown'}${o.endReason ? ` (${o.endReason})` : ''}`,
      );
  }
  const said = o.agentText?.join(' ').toLowerCase();
  for (const f of e.agentSays ?? []) {
    if (said === undefined) unknown(`agentSays "${f}"`);
    else if (said.includes(f.toLowerCase())) checked.push(`says "${f}"`);
    else failures.push(`agentSays: the agent never said "${f}"`);
  }
  for (const f of e.agentNeverSays ?? []) {
    if (said === undefined) unknown(`agentNeverSays "${f}"`);
    else if (!said.includes(f.toLowerCase())) checked.push(`never says "${f}"`);
    else failures.push(`agentNeverSays: the agent said "${f}"`);
  }
  if (e.minTurns !== undefined || e.maxTurns !== undefined) {
    if (o.turns === undefined) unknown('turns');
    else if (o.turns < (e.minTurns ?? 0)) failures.push(`turns: expected at least ${e.minTurns}, got ${o.turns}`);
    else if (e.maxTurns !== undefined && o.turns > e.maxTurns)
      failures.push(`turns: expected at most ${e.maxTurns}, got ${o.turns}`);
    else checked.push(`turns ${o.turns}`);
  }
  if (e.minBargeIns !== undefined || e.maxBargeIns !== undefined) {
    if (o.bargeIns === undefined) unknown('barge-ins');
    else if (o.bargeIns < (e.minBargeIns ?? 0))
      failures.push(`barge-ins: expected at least ${e.minBargeIns}, got ${o.bargeIns}`);
    else if (e.maxBargeIns !== undefined && o.bargeIns > e.maxBargeIns)
      failures.push(`barge-ins: expected at most ${e.maxBargeIns}, got ${o.bargeIns}`);
    else checked.push(`barge-ins ${o.bargeIns}`);
  }
  if (e.answeredBy !== undefined) {
    if (o.answeredBy === e.answeredBy) checked.push(`answered_by ${e.answeredBy}`);
    else failures.push(`answeredBy: expected ${e.answeredBy}, the engine reported ${o.answeredBy ?? 'none'}`);
  }
  checkHeard(e, o, events, checked, failures);
  return { ok: failures.length === 0, checked, failures };
}

const FRAME_MS = 20;
/** Agent silence this long after a barge-in onset means its audio stopped (word gaps are shorter), ms. */
const STOPPED_MS = 400;

/** Caller turns: runs of speech events, every one but the last with role `continues`. Not turns: acks, greetings. */
export function callerTurns(events: readonly CallerEvent[]): CallerEvent[][] {
  const turns: CallerEvent[][] = [];
  let current: CallerEvent[] = [];
  for (const ev of events) {
    if (ev.type !== 'speech' || ev.role === 'acknowledgement' || ev.role === 'backchannel' || ev.role === 'greeting')
      continue;
    current.push(ev);
    if (ev.role !== 'continues') {
      turns.push(current);
      current = [];
    }
  }
  if (current.length) turns.push(current);
  return turns;
}

/** Agent frames the caller could hear: 20 ms frames of the agent track above this level, dBFS. */
export const AUDIBLE_DB = -50;

/** One flag per whole 20 ms frame (160 samples at 8 kHz) of an agent track: 1 when audible. */
export function audibleFrames(track: Int16Array, frame = 160): Uint8Array {
  const n = Math.floor(track.length / frame);
  const out = new Uint8Array(n);
  const floor = 32768 * 10 ** (AUDIBLE_DB / 20);
  for (let f = 0; f < n; f++) {
    let sum = 0;
    for (let i = f * frame; i < (f + 1) * frame; i++) sum += track[i]! * track[i]!;
    out[f] = Math.sqrt(sum / frame) >= floor ? 1 : 0;
  }
  return out;
}

/** Audio checks on what the caller heard (work against a remote engine too: they need only the wire). */
export class Heard {
  constructor(private readonly h: HeardAudio) {}
  at(ms: number): boolean {
    return this.h.audible[Math.floor(ms / FRAME_MS)] === 1;
  }
  /** Any audible frame in [from, to]. */
  any(from: number, to: number): boolean {
    for (let f = Math.max(0, Math.floor(from / FRAME_MS)); f <= Math.floor(to / FRAME_MS); f++)
      if (this.h.audible[f] === 1) return true;
    return false;
  }
  /** First start of agent audio (silent frame, then audible) in (from, to], ms, or undefined. */
  onset(from: number, to: number): number | undefined {
    const a = this.h.audible;
    for (let f = Math.max(1, Math.floor(from / FRAME_MS) + 1); f <= Math.floor(to / FRAME_MS) && f < a.length; f++)
      if (a[f] === 1 && a[f - 1] === 0) return f * FRAME_MS;
    return undefined;
  }
  /** First time at or after `from` followed by STOPPED_MS of agent silence, ms. */
  stop(from: number): number {
    const a = this.h.audible;
    const need = STOPPED_MS / FRAME_MS;
    let quiet = 0;
    for (let f = Math.floor(from / FRAME_MS); f < a.length; f++) {
      quiet = a[f] === 1 ? 0 : quiet + 1;
      if (quiet >= need) return (f - need + 1) * FRAME_MS;
    }
    return a.length * FRAME_MS;
  }
  call(fileMs: number): number {
    return this.h.callMs(fileMs);
  }
}

function checkHeard(
  e: ExpectLike,
  o: ReplayOutcome,
  events: readonly CallerEvent[],
  checked: string[],
  failures: string[],
): void {
  const wants =
    e.answerWithinMs !== undefined ||
    e.noPrematureCut ||
    e.bargeInStopMs !== undefined ||
    e.acknowledgementResumeMs !== undefined ||
    e.messageAfterBeepWithinMs !== undefined;
  if (!wants) return;
  if (!o.heard || !events.length) {
    failures.push('audio checks: not checkable (no scenario events or no agent audio timeline)');
    return;
  }
  const h = new Heard(o.heard);
  const quote = (ev: CallerEvent) => `"${ev.text ?? ev.type}" at ${ev.startMs} ms`;
  const turns = callerTurns(events);
  if (e.answerWithinMs !== undefined) {
    const limit = e.answerWithinMs;
    const missed = turns.filter((t) => {
      const end = h.call(t.at(-1)!.endMs);
      return h.onset(end, end + limit) === undefined;
    });
    for (const t of missed) {
      const end = h.call(t.at(-1)!.endMs);
      const late = h.onset(end, end + 30_000);
      failures.push(
        `answerWithinMs: turn ${quote(t[0]!)} ${late === undefined ? 'never answered' : `answered after ${Math.round(late - end)} ms`} (limit ${limit} ms)`,
      );
    }
    if (!missed.length) checked.push(`${turns.length} turns answered within ${limit} ms`);
  }
  if (e.noPrematureCut) {
    let cuts = 0;
    for (const t of turns) {
      for (let i = 0; i + 1 < t.length; i++) {
        const from = h.call(t[i]!.endMs);
        const cut = h.onset(from, h.call(t.at(-1)!.endMs));
        if (cut !== undefined) {
          cuts++;
          failures.push(
            `noPrematureCut: the agent started talking ${Math.round(cut - from)} ms after ${quote(t[i]!)}, inside the caller's turn`,
          );
          break;
        }
      }
    }
    if (!cuts) checked.push('no premature cuts');
  }
  if (e.bargeInStopMs !== undefined) {
    const limit = e.bargeInStopMs;
    const barges = events.filter((ev) => ev.type === 'speech' && ev.role === 'barge-in');
    for (const ev of barges) {
      const onset = h.call(ev.startMs);
      if (!h.any(onset - 300, onset)) {
        failures.push(`bargeInStopMs: the agent was not talking at the barge-in ${quote(ev)}`);
        continue;
      }
      const stopped = h.stop(onset) - onset;
      if (stopped <= limit) checked.push(`barge-in stopped the agent in ${Math.max(0, Math.round(stopped))} ms`);
      else
        failures.push(
          `bargeInStopMs: the agent kept talking ${Math.round(stopped)} ms after ${quote(ev)} (limit ${limit} ms)`,
        );
    }
  }
  if (e.acknowledgementResumeMs !== undefined) {
    const limit = e.acknowledgementResumeMs;
    for (const ev of events.filter((x) => x.type === 'speech' && x.role === 'acknowledgement')) {
      const start = h.call(ev.startMs);
      const end = h.call(ev.endMs);
      if (!h.any(start - 300, start))
        failures.push(`acknowledgementResumeMs: the agent was not talking at ${quote(ev)}`);
      else if (h.any(end, end + limit)) checked.push(`agent went on after ${quote(ev)}`);
      else failures.push(`acknowledgementResumeMs: ${quote(ev)} stopped the agent (silent for ${limit} ms after it)`);
    }
  }
  if (e.messageAfterBeepWithinMs !== undefined) {
    const limit = e.messageAfterBeepWithinMs;
    const beep = events.find((ev) => ev.type === 'tone');
    if (!beep) failures.push('messageAfterBeepWithinMs: the scenario has no beep (tone event)');
    else {
      const start = h.call(beep.startMs);
      const end = h.call(beep.endMs);
      const msg = h.onset(end - FRAME_MS, end + limit);
      if (h.any(0, start)) failures.push('messageAfterBeepWithinMs: the agent talked before the beep');
      else if (msg === undefined)
        failures.push(`messageAfterBeepWithinMs: no message within ${limit} ms after the beep`);
      else checked.push(`message ${Math.max(0, Math.round(msg - end))} ms after the beep`);
    }
  }
}
