/**
 * `voice-engine bench load [--mode echo|full] [--json] [--calls N] [--duration S] [--ramp 100,200,500]
 *  [--profile realistic]` (DESIGN.md section 7).
 *
 * ENGINE side in this process: an http server on 127.0.0.1:0 with the media gateway. `--mode echo` (default): the
 * resolver returns an echo-mode assistant for every call (audio in is played back through the normal outbound
 * path: 20 ms framing, shared-clock pacing). `--mode full`: every call is a whole call session (bench/load-full.ts:
 * VAD, DTMF, tone guard, Deepgram adapter over a real WebSocket to the loopback fake, rules LLM, TTS fake, pacing,
 * recording). CLIENT side in a separate process (bench/load-client.ts, forked): N concurrent Twilio calls, each
 * streaming 20 ms frames in real time (echo: index-coded frames, receiving the paced echo; full: a real-speech
 * caller who asks, acknowledges, barges in, hesitates and says two sentences, open loop).
 *
 * Figures:
 * - lag_ms: inbound lag, measured on the ENGINE side: the time the session receives frame i (the echo tap, after
 *   the wire parse, base64 decode and re-chunking) minus the time the client's schedule said frame i is sent
 *   (t0 + 20 ms x i), with the two processes' clocks aligned by an IPC ping (offset error well under 0.1 ms).
 *   It includes the client's own send lateness (reported apart as client_send_late_ms_p99), so it is what a
 *   platform sending on time would see at worst. The first second of each call (JIT warm-up) is not sampled.
 * - jitter_ms.p99: |inter-arrival - 20 ms| of the returned frames at the client.
 * - dropped_frames: frames the engine dropped (queue full, peer not reading) + frames sent that never came back.
 * - cpu_pct (100 = one core) and rss_mb of the engine process over the streaming window; per call as well.
 * - cpu_capacity_calls_per_core: 100 / cpu_pct_per_call, the CPU-bound ceiling of one engine core; with
 *   loadavg_1m it separates "the engine is too slow" from "the machine was busy with other work".
 * - max_calls_under_20ms_p99: the largest N run (with --ramp, each N in turn) whose lag p99 <= 20 ms and with no
 *   dropped frames; null when none passed.
 * Full mode adds turn_latency_ms (end of a caller turn -> first agent audio at the client, under load),
 * turns_committed and the turn report (bench/load-full.ts: each caller turn's words, what the engine heard and did
 * with them; turns_unanswered counts real turns the engine did not answer); its dropped_frames are the engine's outbound drops plus inbound chunks that
 * never reached a session (sequence gaps); the Deepgram fake runs in the client process.
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import type { Assistant } from '../src/assistant.js';
import { CliError, EXIT, flagNumber, flagString } from '../src/cli/args.js';
import type { BenchContext } from '../src/cli/bench.js';
import { silentLogger } from '../src/log.js';
import { attachGateway } from '../src/telephony/gateway.js';
import { DEFAULT_LIMITS } from '../src/telephony/gateway-types.js';
import type { MediaLeg } from '../src/telephony/leg.js';
import { Pacer } from '../src/telephony/pacer.js';
import { COST_COLUMNS, type CpuCost, callSeconds, costLine, cpuCost, goalArithmetic } from './load-cost.js';
import { fullScripts, heardScripts, reportLines, startFullEngine, type TurnReport } from './load-full.js';
import {
  arrivalsFlag,
  type CallsOutcome,
  type ClientResult,
  childExit,
  clientPath,
  failureNote,
  outcome,
  request,
} from './load-ipc.js';
import { run as runSip, table as sipTable } from './load-sip.js';
import { runWorkers, workersTable } from './load-workers.js';
import { PacerLagRecorder, type PacerLagSummary } from './pacer-lag.js';
import { PROFILES, type ProviderProfile, profileNamed } from './profiles.js';
import { columnsOf, percentile, round } from './stats.js';

export type LoadMode = 'echo' | 'full';

export interface LoadRun extends Partial<TurnReport>, CallsOutcome, CpuCost {
  mode: LoadMode;
  calls: number;
  duration_s: number;
  lag_ms: { p50: number; p99: number; max: number };
  jitter_ms: { p50: number; p99: number };
  engine_dropped_frames: number;
  cpu_pct: number;
  rss_mb: number;
  cpu_pct_per_call: number;
  rss_mb_per_call: number;
  pacer_max_tick_late_ms: number;
  /** Tick lateness of the shared pacing clock over the steady state (bench/pacer-lag.ts), with its histogram. */
  pacer_lag_ms: PacerLagSummary;
  client_send_late_ms_p99: number;
  /** CPU of the load-generating client process (100 = one core): on a 2-core box it competes with the engine. */
  client_cpu_pct: number;
  /** The media limits the bench set on the engine (see mediaLimitsFor). */
  media_limits: { max_pending_per_ip: number };
  cpu_capacity_calls_per_core: number | null;
  /** 1-minute load average of the machine before and after the run (other work competes for the cores). */
  loadavg_1m: [number, number];
  /** full mode: end of a caller turn -> first agent audio at the client, under this load. */
  turn_latency_ms?: { p50: number; p95: number };
  turns?: number;
  turns_committed?: number;
}

const WARMUP_FRAMES = 50;

const ECHO: Assistant = {
  id: 'ag_load',
  assistantApiKey: 'ast_load',
  tenantId: 't_load',
  config: { mode: 'echo' },
  version: 1,
  createdAt: new Date(0).toISOString(),
  updatedAt: new Date(0).toISOString(),
};

/**
 * Every bench call comes from one IP (127.0.0.1), where a platform's calls come from a few of its media servers:
 * the engine's per-IP cap on sockets still connecting (MEDIA_MAX_PENDING_PER_IP, default 20) would refuse calls
 * 21+ of a burst with HTTP 429 at the upgrade. The bench raises it to the number of calls, and says so.
 */
export function mediaLimitsFor(calls: number): { maxPendingPerIp: number } {
  return { maxPendingPerIp: Math.max(DEFAULT_LIMITS.maxPendingPerIp, calls) };
}

function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

async function runOnce(
  calls: number,
  durationS: number,
  progress: (l: string) => void,
  mode: LoadMode,
  profile: ProviderProfile,
  arrivalsPerS: number,
): Promise<LoadRun> {
  const frames = Math.round((durationS * 1000) / 20);
  // Inbound lag samples, one slot per frame per call, allocated once (no per-frame allocation in the tap).
  const lags = new Float64Array(calls * frames);
  let nLags = 0;
  let offset = 0; // client clock - engine clock, ms
  const t0ByLeg = new WeakMap<MediaLeg, number>();

  const sample = (t0Client: number, idx: number, arrivedWall: number): void => {
    // The first second of each call is warm-up (JIT, connection setup), not steady state: not sampled.
    if (idx >= WARMUP_FRAMES && idx < frames && nLags < lags.length)
      lags[nLags++] = arrivedWall - (t0Client - offset + idx * 20);
  };
  const child = fork(clientPath(), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  // The shared pacing clock's tick lateness, from the steady state on (echo: the client says when, 1 s into the
  // streaming; full: from the start of the run) to the end of the streaming.
  const pacerLag = new PacerLagRecorder(durationS);
  const pacer = new Pacer({ onTickLate: pacerLag.record });
  // Engine CPU over the same steady state as the client's (echo; full mode: the whole run).
  let steady: { cpu: NodeJS.CpuUsage; at: number; framesIn: number } | undefined;
  let streamed: { cpu: NodeJS.CpuUsage; at: number; framesIn: number } | undefined;
  child.on('message', (m: { type: string }) => {
    if (m.type === 'steady') {
      pacerLag.recording = true;
      steady = { cpu: process.cpuUsage(), at: performance.now(), framesIn: engine.stats().framesIn ?? 0 };
    } else if (m.type === 'streamed') {
      pacerLag.recording = false;
      streamed = { cpu: process.cpuUsage(), at: performance.now(), framesIn: engine.stats().framesIn ?? 0 };
    }
  });
  let engine: {
    port: number;
    /** framesIn: inbound frames of the gateway's calls (echo mode). */
    stats: () => { dropped: number; pacerMaxLateMs: number; framesIn?: number };
    close: () => Promise<void>;
  };
  let full: Awaited<ReturnType<typeof startFullEngine>> | undefined;
  const scripts = mode === 'full' ? await fullScripts() : undefined;
  if (scripts) {
    // The Deepgram fake hears what each caller says (bench/fakes/script-hearing.ts).
    const { url } = await request<{ url: string }>(
      child,
      { type: 'deepgram', firstByteMs: profile.asrFinalMs, heard: heardScripts(scripts) },
      'deepgram',
    );
    full = await startFullEngine({ profile, deepgramUrl: url, onChunk: sample, limits: mediaLimitsFor(calls), pacer });
    pacerLag.recording = true;
    const f = full;
    engine = {
      port: f.port,
      stats: () => ({ dropped: f.dropped().engine + f.dropped().inboundMissing, pacerMaxLateMs: f.pacerMaxLateMs() }),
      close: () => f.close(),
    };
  } else {
    const server = http.createServer((_q, s) => s.end());
    const gateway = attachGateway(server, {
      logger: silentLogger,
      limits: { idleTimeoutMs: 120_000, ...mediaLimitsFor(calls) },
      pacer,
      resolve: async () => ({ ok: true, call: { tenantId: 't_load', assistant: ECHO } }),
      onCall: () => {},
      echoTap: (leg, wire) => {
        let t0 = t0ByLeg.get(leg);
        if (t0 === undefined) {
          t0 = Number(leg.info.customParameters.t0);
          t0ByLeg.set(leg, t0);
        }
        sample(t0, (wire[0]! << 16) | (wire[1]! << 8) | wire[2]!, wallNow());
      },
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    engine = {
      port: (server.address() as AddressInfo).port,
      stats: () => gateway.stats(),
      close: async () => {
        await gateway.close();
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  }
  const port = engine.port;
  // Clock alignment: the child's wall clock at the midpoint of an IPC round trip.
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    const a = wallNow();
    const { now } = await request<{ now: number }>(child, { type: 'ping' }, 'clock');
    const b = wallNow();
    if (b - a < best) {
      best = b - a;
      offset = now - (a + b) / 2;
    }
  }

  progress(`load: ${calls} calls x ${durationS} s (client pid ${child.pid})`);
  const load0 = os.loadavg()[0]!;
  const rss0 = process.memoryUsage().rss;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const result = await request<ClientResult>(
    child,
    { type: 'run', port, calls, durationS, scripts, arrivalsPerS },
    'result',
  );
  const wallMs = performance.now() - wall0;
  const whole = process.cpuUsage(cpu0);
  const rss = process.memoryUsage().rss;
  pacerLag.recording = false;
  const stats = engine.stats();
  const turnsCommitted = full?.turnsCommitted();
  const report = scripts && full?.turnReport(scripts, result.turn_results ?? []);
  await engine.close();
  pacer.stop();
  await childExit(child);

  const sorted = lags.subarray(0, nLags).sort();
  const window =
    steady && streamed
      ? {
          user_ms: (streamed.cpu.user - steady.cpu.user) / 1000,
          system_ms: (streamed.cpu.system - steady.cpu.system) / 1000,
          wall_ms: streamed.at - steady.at,
          call_s: callSeconds(streamed.framesIn - steady.framesIn),
        }
      : {
          user_ms: whole.user / 1000,
          system_ms: whole.system / 1000,
          wall_ms: wallMs,
          call_s: (calls * wallMs) / 1000,
        };
  const cpuPct = ((window.user_ms + window.system_ms) / window.wall_ms) * 100;
  const engineDropped = stats.dropped;
  return {
    mode,
    calls,
    duration_s: durationS,
    lag_ms: {
      p50: round(percentile(sorted, 50)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted[nLags - 1] ?? 0),
    },
    jitter_ms: { p50: round(result.jitter_p50), p99: round(result.jitter_p99) },
    // Echo: frames that never came back count as dropped; full: the engine counts inbound gaps in stats.dropped.
    ...outcome(result, engineDropped, mode === 'echo'),
    engine_dropped_frames: engineDropped,
    cpu_pct: round(cpuPct, 1),
    rss_mb: round(rss / 2 ** 20, 1),
    cpu_pct_per_call: round(cpuPct / calls, 3),
    rss_mb_per_call: round(Math.max(0, rss - rss0) / 2 ** 20 / calls, 3),
    pacer_max_tick_late_ms: round(stats.pacerMaxLateMs),
    pacer_lag_ms: pacerLag.summary(),
    client_send_late_ms_p99: round(result.client_send_late_p99),
    client_cpu_pct: round(result.client_cpu_pct, 1),
    ...cpuCost(window, result.client_cpu),
    media_limits: { max_pending_per_ip: mediaLimitsFor(calls).maxPendingPerIp },
    // CPU-bound capacity of one core at this cost per call: independent of how busy the machine was, unlike lag.
    cpu_capacity_calls_per_core: cpuPct > 0 ? Math.floor((100 * calls) / cpuPct) : null,
    loadavg_1m: [round(load0, 1), round(os.loadavg()[0]!, 1)],
    ...(mode === 'full'
      ? {
          turn_latency_ms: { p50: round(result.turn_latency_p50 ?? 0, 1), p95: round(result.turn_latency_p95 ?? 0, 1) },
          turns: result.turns,
          turns_committed: turnsCommitted,
          ...report,
        }
      : {}),
  };
}

export async function run(ctx: BenchContext): Promise<Record<string, unknown> & { suite: string }> {
  if (flagString(ctx.args, 'protocol') === 'sip') return runSip(ctx);
  if (ctx.args.flags.workers !== undefined) return runWorkers(ctx);
  const mode = (flagString(ctx.args, 'mode') ?? 'echo') as LoadMode;
  if (mode !== 'echo' && mode !== 'full') throw new CliError(`--mode ${mode}: echo or full`, EXIT.usage);
  const profileName = flagString(ctx.args, 'profile') ?? 'realistic';
  const profile = profileNamed(profileName);
  if (!profile) throw new CliError(`--profile ${profileName}: one of ${Object.keys(PROFILES).join(', ')}`, EXIT.usage);
  const calls = flagNumber(ctx.args, 'calls', mode === 'full' ? 20 : 100);
  const durationS = flagNumber(ctx.args, 'duration', 10);
  const ramp = (flagString(ctx.args, 'ramp') ?? '')
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
  const plan = ramp.length > 0 ? ramp : [calls];
  const arrivals = arrivalsFlag(ctx.args.flags.arrivals);
  const runs: LoadRun[] = [];
  ctx.progress(`load: the client opens ${arrivals} calls per second (--arrivals)`);
  ctx.progress(
    `load: MEDIA_MAX_PENDING_PER_IP raised to the number of calls (default ${DEFAULT_LIMITS.maxPendingPerIp}): every bench call comes from 127.0.0.1`,
  );
  for (const n of plan) {
    const r = await runOnce(n, durationS, ctx.progress, mode, profile, arrivals);
    ctx.progress(
      `  lag p50 ${r.lag_ms.p50} p99 ${r.lag_ms.p99} ms, jitter p99 ${r.jitter_ms.p99} ms, dropped ${r.dropped_frames}, failed ${r.calls_failed}${failureNote(r)}, cpu ${r.cpu_pct}%, pacer tick late p99 ${r.pacer_lag_ms.p99} max ${r.pacer_lag_ms.max} ms${r.turn_latency_ms ? `, turn latency p50 ${r.turn_latency_ms.p50} p95 ${r.turn_latency_ms.p95} ms` : ''}`,
    );
    if (mode === 'echo') ctx.progress(costLine(r));
    ctx.progress(
      `  pacer ticks by lateness (ms): ${Object.entries(r.pacer_lag_ms.histogram)
        .filter(([, n]) => n > 0)
        .map(([b, n]) => `${b} ${n}`)
        .join(', ')}`,
    );
    if (r.outcomes) for (const line of reportLines(r as TurnReport)) ctx.progress(line);
    runs.push(r);
  }
  const main = runs[runs.length - 1]!;
  const passing = runs.filter((r) => r.lag_ms.p99 <= 20 && r.dropped_frames === 0 && r.calls_failed === 0);
  const goal = mode === 'echo' ? goalArithmetic(runs, passing, os.availableParallelism()) : undefined;
  if (goal) ctx.progress(`load: goal arithmetic: ${goal.note}`);
  return {
    suite: 'load',
    ...main,
    max_calls_under_20ms_p99: passing.length ? Math.max(...passing.map((r) => r.calls)) : null,
    ...(goal ? { goal_1000_calls_per_core: goal } : {}),
    runs: runs.length > 1 ? runs : undefined,
    ...(mode === 'full' ? { profile: profile.name } : {}),
    method:
      mode === 'full'
        ? 'engine: whole call sessions behind the real gateway (VAD, DTMF, tone guard, Deepgram adapter over a real WebSocket to the loopback fake in the client process, rules LLM, scripted TTS, pacing, stereo recording); client: separate process, Twilio protocol, real-speech caller scripts in real time, marks echoed; lag = session wire tap receive - client schedule (IPC-aligned clocks); turn latency = end of caller turn -> first agent audio at the client'
        : 'engine: echo-mode assistants behind the real gateway; client: separate process, Twilio protocol, 20 ms mu-law frames in real time; lag = engine receive - client schedule (IPC-aligned clocks); jitter = |inter-arrival - 20 ms| of returned frames',
  };
}

export function table(result: Record<string, unknown>): string[][] {
  if (result.protocol === 'sip') return sipTable(result);
  if (result.workers !== undefined) return workersTable(result);
  const r = result as unknown as LoadRun & { max_calls_under_20ms_p99: number | null };
  const full = r.mode === 'full';
  type Row = typeof r;
  const turns: [string, (x: Row) => unknown][] = [
    ['turn p50 ms', (x) => x.turn_latency_ms?.p50],
    ['turn p95 ms', (x) => x.turn_latency_ms?.p95],
    ['unanswered', (x) => x.turns_unanswered],
  ];
  return columnsOf(r, [
    ['mode', (x) => x.mode],
    ['calls', (x) => x.calls],
    ['lag p50 ms', (x) => x.lag_ms.p50],
    ['lag p99 ms', (x) => x.lag_ms.p99],
    ['jitter p99 ms', (x) => x.jitter_ms.p99],
    ['dropped', (x) => x.dropped_frames],
    ['failed', (x) => x.calls_failed],
    ['pacer p99 ms', (x) => x.pacer_lag_ms.p99],
    ['pacer max ms', (x) => x.pacer_lag_ms.max],
    ['cpu %', (x) => x.cpu_pct],
    ['rss MB', (x) => x.rss_mb],
    ['cpu %/call', (x) => x.cpu_pct_per_call],
    ['rss MB/call', (x) => x.rss_mb_per_call],
    ...(full ? [] : COST_COLUMNS),
    ['max calls p99<=20', (x) => x.max_calls_under_20ms_p99],
    ...(full ? turns : []),
  ]);
}
