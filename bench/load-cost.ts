/**
 * What a media-only call costs in CPU, engine and load client apart: ms of CPU per call per second of call (user
 * and system), over the steady state. Unlike lag, this figure barely moves when other work shares the machine, so
 * it is the one to compare before / after a change; and it gives the arithmetic of the calls-per-core goal: one
 * core has 1,000 ms per second, and with the client on the same machine every call costs engine + client.
 */
import { round } from './stats.js';

/**
 * CPU used over a window (process.cpuUsage() deltas in ms), and the call-seconds of media handled in it: frames
 * received (engine) or sent (client) / 50. Counting the work done rather than calls x wall time keeps the figure
 * right when a starved process falls behind.
 */
export interface CpuSample {
  user_ms: number;
  system_ms: number;
  wall_ms: number;
  call_s: number;
}

/** Media call-seconds in `frames` 20 ms frames. */
export const callSeconds = (frames: number): number => (frames * 20) / 1000;

/** ms of CPU per call per second of call. */
export interface CallCost {
  user: number;
  system: number;
  total: number;
}

export interface CpuCost {
  engine_ms_per_call_s: CallCost;
  client_ms_per_call_s: CallCost;
  /** 1000 / engine: calls one core carries at this cost with nothing else on it (CPU-bound, before lag). */
  engine_only_calls_per_core: number | null;
  /** cores x 1000 / (engine + client) / cores: calls per core here, the client sharing the cores. */
  calls_per_core_with_client: number | null;
  /** CPU % of one core that 1,000 calls per core need, engine + client (over 100: not reachable here). */
  cpu_pct_per_core_for_1000: number;
}

export function perCallSecond(s: CpuSample): CallCost {
  const callS = s.call_s;
  if (callS <= 0) return { user: 0, system: 0, total: 0 };
  return {
    user: round(s.user_ms / callS, 3),
    system: round(s.system_ms / callS, 3),
    total: round((s.user_ms + s.system_ms) / callS, 3),
  };
}

export function cpuCost(engine: CpuSample, client: CpuSample | undefined): CpuCost {
  const e = perCallSecond(engine);
  const c = client ? perCallSecond(client) : { user: 0, system: 0, total: 0 };
  const both = e.total + c.total;
  return {
    engine_ms_per_call_s: e,
    client_ms_per_call_s: c,
    engine_only_calls_per_core: e.total > 0 ? Math.floor(1000 / e.total) : null,
    calls_per_core_with_client: both > 0 ? Math.floor(1000 / both) : null,
    cpu_pct_per_core_for_1000: round(both * 100, 1),
  };
}

/** One progress line: the cost and what it means for calls per core. */
export function costLine(c: CpuCost): string {
  const e = c.engine_ms_per_call_s;
  const k = c.client_ms_per_call_s;
  return `  cpu ms per call-second: engine ${e.total} (user ${e.user}, sys ${e.system}), client ${k.total} (user ${k.user}, sys ${k.system}); CPU-bound: engine alone ${c.engine_only_calls_per_core} calls/core, with the client on the machine ${c.calls_per_core_with_client} calls/core; 1,000 calls/core would need ${c.cpu_pct_per_core_for_1000}% of each core`;
}

/** The cost columns of the load tables. */
export const COST_COLUMNS: ReadonlyArray<readonly [string, (r: CpuCost) => unknown]> = [
  ['engine ms/call-s', (r) => r.engine_ms_per_call_s.total],
  ['client ms/call-s', (r) => r.client_ms_per_call_s.total],
  ['calls/core cpu-bound (engine+client)', (r) => r.calls_per_core_with_client],
];

/**
 * The goal's arithmetic at the largest passing run (else the smallest run: the cheapest per call that was measured
 * without saturation). Under saturation the cost per call falls (the event loops read and write several frames per
 * syscall once they lag), so a saturated run's cost is not the cost of meeting the lag bound.
 */
export interface GoalArithmetic {
  measured_at_calls: number;
  passed: boolean;
  engine_plus_client_ms_per_call_s: number;
  /** CPU the goal (1,000 calls per core on `cores` cores, client included) needs, % of the machine's cores x 100. */
  goal_needs_cpu_pct: number;
  machine_cpu_pct: number;
  /** cores x 1000 / (engine + client): the most calls these cores carry at that cost, before any lag headroom. */
  cpu_bound_calls_on_machine: number | null;
  note: string;
}

export function goalArithmetic<R extends CpuCost & { calls: number }>(
  runs: R[],
  passing: R[],
  cores: number,
): GoalArithmetic | undefined {
  const byCalls = (a: R, b: R) => a.calls - b.calls;
  const at = passing.length ? [...passing].sort(byCalls).at(-1) : [...runs].sort(byCalls)[0];
  if (!at) return undefined;
  const perCall = round(at.engine_ms_per_call_s.total + at.client_ms_per_call_s.total, 3);
  const goalCalls = 1000 * cores;
  const needs = round((goalCalls * perCall) / 10, 1);
  const bound = perCall > 0 ? Math.floor((cores * 1000) / perCall) : null;
  return {
    measured_at_calls: at.calls,
    passed: passing.includes(at),
    engine_plus_client_ms_per_call_s: perCall,
    goal_needs_cpu_pct: needs,
    machine_cpu_pct: cores * 100,
    cpu_bound_calls_on_machine: bound,
    note: `at ${at.calls} calls${passing.includes(at) ? ' (the largest that passed)' : ' (none passed; the smallest run)'} a call costs engine ${at.engine_ms_per_call_s.total} + client ${at.client_ms_per_call_s.total} = ${perCall} ms CPU per second: ${goalCalls} calls (1,000 per core) need ${needs}% CPU of the ${cores * 100}% these ${cores} cores have; CPU-bound, before any headroom for lag, they carry ${bound} calls with the client on the machine`,
  };
}
