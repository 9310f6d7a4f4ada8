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

export function checkExpectations(e: ExpectLike, o: ReplayOutcome): CheckResult {
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
  return { ok: failures.length === 0, checked, failures };
}
