/**
 * `voice-engine bench load --protocol sip [--json] [--calls N] [--ramp 10,50,100] [--rate R]` (DESIGN.md section 7,
 * issue 19): calls per core over SIP/RTP, with Debian's SIPp (`sipp`, package sip-tester) as the load generator.
 *
 * ENGINE side in this process: the SIP user agent (src/sip/server.ts) on 127.0.0.1, UDP, with the engine's one
 * pacing clock; every call is answered (100/180/200 with an SDP answer) and echoes the caller's audio back through
 * the normal outbound path (G.711 framing, shared-clock pacing, RTP out), counting the RFC 4733 digits it receives.
 * CLIENT: SIPp in its own process running bench/sipp/uac-pcap.xml: INVITE with SDP, ACK, 7 s of A-law RTP from
 * sip-tester's g711a.pcap, an RFC 2833 digit from dtmf_2833_1.pcap, a pause, BYE. For each concurrency N of the
 * ramp SIPp places N calls at N/2 new calls per second (-l N -m N -r N/2): about 2 s of ramp, then a plateau with
 * all N calls up, then the hang-ups.
 *
 * Figures per run:
 * - calls_ok / calls_failed: SIPp's own counts (SuccessfulCall / FailedCall of its -trace_stat file);
 * - setup_ms p50 / p99: INVITE -> 200 as SIPp measured it (-trace_rtt, one line per call);
 * - lag_ms p50 / p99 / max: the engine's pacer tick lateness (the shared clock that sends every call's RTP) over
 *   the run: how late 20 ms audio leaves under this load;
 * - cpu_pct: the engine process's CPU (100 = one core) on the plateau (samples with all N calls up), and
 *   calls_per_core = calls up on the plateau x 100 / cpu_pct: the CPU-bound capacity of one core at this cost;
 * - jitter_ms p50 / p99: |inter-arrival - 20 ms| of the frames the jitter buffer hands each session;
 * - dtmf_received (should equal calls_ok), rtp frames in / out, dropped_frames (outbound frames the engine dropped).
 * max_calls_under_20ms_p99: the largest N whose lag p99 <= 20 ms with no failed call and every digit received.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Assistant } from '../src/assistant.js';
import { CliError, EXIT, flagNumber, flagString } from '../src/cli/args.js';
import type { BenchContext } from '../src/cli/bench.js';
import { silentLogger } from '../src/log.js';
import { startSipServer } from '../src/sip/server.js';
import { startEcho } from '../src/telephony/echo.js';
import type { MediaLeg, MediaLegHandler } from '../src/telephony/leg.js';
import { Pacer } from '../src/telephony/pacer.js';
import { percentile, round } from './stats.js';

export const SIPP = '/usr/bin/sipp';
const PCAPS = ['/usr/share/sip-tester/g711a.pcap', '/usr/share/sip-tester/dtmf_2833_1.pcap'];

export interface SipLoadRun {
  calls: number;
  rate_per_s: number;
  calls_ok: number;
  calls_failed: number;
  peak_concurrent: number;
  plateau_calls: number;
  setup_ms: { p50: number; p99: number };
  lag_ms: { p50: number; p99: number; max: number };
  jitter_ms: { p50: number; p99: number };
  dropped_frames: number;
  cpu_pct: number;
  calls_per_core: number | null;
  rss_mb: number;
  dtmf_received: number;
  rtp_frames_in: number;
  rtp_frames_out: number;
  engine_dropped_frames: number;
  sipp_exit: number | null;
  loadavg_1m: [number, number];
}

const ASSISTANT: Assistant = {
  id: 'ag_sip_load',
  assistantApiKey: 'ast_sipload',
  tenantId: 't_load',
  config: {},
  version: 1,
  createdAt: new Date(0).toISOString(),
  updatedAt: new Date(0).toISOString(),
};

/** bench/sipp/uac-pcap.xml next to this file (bench/ under tsx, dist/bench when built: the XML stays in bench/). */
function scenarioPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const p of [
    path.join(here, 'sipp', 'uac-pcap.xml'),
    path.join(here, '..', '..', 'bench', 'sipp', 'uac-pcap.xml'),
  ])
    if (existsSync(p)) return p;
  throw new CliError('bench/sipp/uac-pcap.xml not found', EXIT.io);
}

/** A UDP port free on 127.0.0.1 now (SIPp binds it next). */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** SIPp's -trace_stat file: `;`-separated, a header row then one row per dump; the last row is the final count. */
export function parseSippStat(text: string): Record<string, string> {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) return {};
  const head = lines[0]!.split(';');
  const last = lines[lines.length - 1]!.split(';');
  const out: Record<string, string> = {};
  head.forEach((h, i) => {
    if (h) out[h] = last[i] ?? '';
  });
  return out;
}

/** SIPp's -trace_rtt file: `date_ms;date_s;response_time_ms;rtd_no` lines; the response times (ms). */
export function parseSippRtt(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split(/\r?\n/).slice(1)) {
    const f = line.split(';');
    const v = Number(f[2]);
    if (f.length >= 3 && Number.isFinite(v)) out.push(v);
  }
  return out;
}

/** Wraps a leg so that the echo handler's digits and the leg's end are seen too. */
function observed(
  leg: MediaLeg,
  onFrame: (gapMs: number) => void,
  onDigit: () => void,
  onStop: (leg: MediaLeg) => void,
): MediaLeg {
  let last = 0;
  return new Proxy(leg, {
    get(target, prop) {
      if (prop === 'setHandler') {
        return (h: MediaLegHandler) =>
          target.setHandler({
            ...h,
            onAudio: (pcm, wire) => {
              const now = performance.now();
              if (last > 0) onFrame(now - last);
              last = now;
              h.onAudio(pcm, wire);
            },
            onDtmf: (d, ms) => {
              onDigit();
              h.onDtmf(d, ms);
            },
            onStop: (reason) => {
              onStop(target);
              h.onStop(reason);
            },
          });
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function runOnce(calls: number, rate: number, progress: (l: string) => void): Promise<SipLoadRun> {
  // Pacer tick lateness samples: 100 per second for the run, allocated once.
  const lags = new Float64Array(100 * 120);
  let nLags = 0;
  const pacer = new Pacer({
    onTickLate: (late) => {
      if (nLags < lags.length) lags[nLags++] = late;
    },
  });
  let dtmf = 0;
  // |inter-arrival - 20 ms| of the frames the jitter buffer hands the session (50 per second per call).
  const jitter = new Float64Array(calls * 50 * 15);
  let nJitter = 0;
  const legStats = { in: 0, out: 0, dropped: 0 };
  const server = await startSipServer({
    host: '127.0.0.1',
    port: 0,
    rtp: { min: 20000, max: 29999 },
    logger: silentLogger,
    pacer,
    leadMs: 80,
    limits: { maxCalls: calls + 16, maxPending: calls + 16, invitesPerSecondPerIp: Math.max(100, rate * 4) },
    admit: async () => ({ kind: 'allow' }),
    resolve: async () => ({ ok: true, call: { tenantId: 't_load', assistant: ASSISTANT } }),
    onCall: (leg) => {
      const done = (l: MediaLeg) => {
        legStats.in += l.stats.framesIn;
        legStats.out += l.stats.framesOut;
        legStats.dropped += l.stats.dropped;
      };
      startEcho(
        observed(
          leg,
          (gap) => {
            if (nJitter < jitter.length) jitter[nJitter++] = Math.abs(gap - 20);
          },
          () => dtmf++,
          done,
        ),
      );
    },
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 've-sipp-'));
  const scenario = path.join(dir, 'uac-pcap.xml');
  await copyFile(scenarioPath(), scenario);
  const statFile = path.join(dir, 'stat.csv');
  const localPort = await freeUdpPort();
  const mediaPort = 30000 + 2 * Math.floor(Math.random() * 2000);
  const args = [
    `127.0.0.1:${server.port}`,
    ...['-sf', scenario, '-s', ASSISTANT.assistantApiKey],
    ...['-i', '127.0.0.1', '-p', String(localPort), '-mi', '127.0.0.1', '-mp', String(mediaPort)],
    ...['-l', String(calls), '-m', String(calls), '-r', String(rate)],
    ...['-nostdin', '-trace_stat', '-stf', statFile, '-fd', '1', '-trace_rtt', '-rtt_freq', '1'],
    ...['-timeout', `${Math.ceil(calls / rate) + 60}s`, '-max_socket', String(calls * 2 + 64)],
  ];
  progress(`load sip: ${calls} calls at ${rate}/s (sipp ${args.join(' ')})`);
  const load0 = os.loadavg()[0]!;
  const samples: { t: number; cpu: number; active: number }[] = [];
  let peak = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const sampler = setInterval(() => {
    const c = process.cpuUsage(cpu0);
    const active = server.activeCalls;
    peak = Math.max(peak, active);
    samples.push({ t: performance.now() - t0, cpu: (c.user + c.system) / 1000, active });
  }, 250);
  const child: ChildProcess = spawn(SIPP, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 4000) stderr += d.toString('utf8');
  });
  const exit = await new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  clearInterval(sampler);
  const rss = process.memoryUsage().rss;
  // Calls still up (SIPp gave up on them) end with the server.
  await server.close();
  pacer.stop();

  const stat = parseSippStat(await readFile(statFile, 'utf8').catch(() => ''));
  const rttName = (await readdir(dir)).find((f) => f.endsWith('_rtt.csv'));
  const rtt = rttName ? parseSippRtt(await readFile(path.join(dir, rttName), 'utf8')) : [];
  await rm(dir, { recursive: true, force: true });
  if (exit !== 0 && exit !== 1) {
    throw new CliError(`sipp exited with ${exit}: ${stderr.trim().slice(0, 500)}`, EXIT.io);
  }
  // The plateau: samples with (nearly) every call up; CPU per interval between consecutive plateau samples.
  const plateau = Math.max(1, Math.floor(peak * 0.9));
  let cpuMs = 0;
  let wallMs = 0;
  let callMs = 0;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    if (a.active < plateau || b.active < plateau) continue;
    cpuMs += b.cpu - a.cpu;
    wallMs += b.t - a.t;
    callMs += ((a.active + b.active) / 2) * (b.t - a.t);
  }
  const cpuPct = wallMs > 0 ? (cpuMs / wallMs) * 100 : 0;
  const onPlateau = wallMs > 0 ? callMs / wallMs : 0;
  const sortedRtt = Float64Array.from(rtt).sort();
  const sortedLag = lags.subarray(0, nLags).sort();
  const sortedJitter = jitter.subarray(0, nJitter).sort();
  return {
    calls,
    rate_per_s: rate,
    calls_ok: Number(stat['SuccessfulCall(C)'] ?? 0),
    calls_failed: Number(stat['FailedCall(C)'] ?? 0) + Math.max(0, calls - Number(stat['OutgoingCall(C)'] ?? calls)),
    peak_concurrent: peak,
    plateau_calls: round(onPlateau, 1),
    setup_ms: { p50: round(percentile(sortedRtt, 50)), p99: round(percentile(sortedRtt, 99)) },
    lag_ms: {
      p50: round(percentile(sortedLag, 50)),
      p99: round(percentile(sortedLag, 99)),
      max: round(sortedLag[nLags - 1] ?? 0),
    },
    jitter_ms: { p50: round(percentile(sortedJitter, 50)), p99: round(percentile(sortedJitter, 99)) },
    dropped_frames: legStats.dropped,
    cpu_pct: round(cpuPct, 1),
    calls_per_core: cpuPct > 0 ? Math.floor((100 * onPlateau) / cpuPct) : null,
    rss_mb: round(rss / 2 ** 20, 1),
    dtmf_received: dtmf,
    rtp_frames_in: legStats.in,
    rtp_frames_out: legStats.out,
    engine_dropped_frames: legStats.dropped,
    sipp_exit: exit,
    loadavg_1m: [round(load0, 1), round(os.loadavg()[0]!, 1)],
  };
}

export async function run(ctx: BenchContext): Promise<Record<string, unknown> & { suite: string }> {
  if (!existsSync(SIPP) || !PCAPS.every((p) => existsSync(p))) {
    throw new CliError('bench load --protocol sip needs SIPp and its pcaps: apt-get install sip-tester', EXIT.usage);
  }
  const calls = flagNumber(ctx.args, 'calls', 50);
  const ramp = (flagString(ctx.args, 'ramp') ?? '')
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
  const plan = ramp.length > 0 ? ramp : [calls];
  const runs: SipLoadRun[] = [];
  for (const n of plan) {
    const rate = flagNumber(ctx.args, 'rate', Math.max(1, Math.ceil(n / 2)));
    const r = await runOnce(n, rate, ctx.progress);
    ctx.progress(
      `  ok ${r.calls_ok} failed ${r.calls_failed}, plateau ${r.plateau_calls} calls at cpu ${r.cpu_pct}% -> ${r.calls_per_core} calls/core, lag p99 ${r.lag_ms.p99} ms, setup p99 ${r.setup_ms.p99} ms, dtmf ${r.dtmf_received}`,
    );
    runs.push(r);
  }
  const main = runs[runs.length - 1]!;
  const passing = runs.filter((r) => r.lag_ms.p99 <= 20 && r.calls_failed === 0 && r.dtmf_received >= r.calls_ok);
  return {
    suite: 'load',
    protocol: 'sip',
    ...main,
    max_calls_under_20ms_p99: passing.length ? Math.max(...passing.map((r) => r.calls)) : null,
    runs: runs.length > 1 ? runs : undefined,
    method:
      'engine: the SIP user agent (UDP) in this process, every call answered and echoing its audio through the shared pacing clock; client: SIPp (sip-tester) in its own process, bench/sipp/uac-pcap.xml (INVITE+SDP, ACK, 7 s A-law RTP from pcap, RFC 2833 digit from pcap, BYE); lag = pacer tick lateness; calls_per_core = calls up on the plateau x 100 / engine cpu %',
  };
}

export function table(result: Record<string, unknown>): string[][] {
  const r = result as unknown as SipLoadRun & { max_calls_under_20ms_p99: number | null; runs?: SipLoadRun[] };
  const rows = r.runs ?? [r];
  return [
    [
      'calls',
      'ok',
      'failed',
      'plateau',
      'cpu %',
      'calls/core',
      'lag p50 ms',
      'lag p99 ms',
      'setup p99 ms',
      'dtmf',
      'dropped',
      'max calls p99<=20',
    ],
    ...rows.map((x) => [
      String(x.calls),
      String(x.calls_ok),
      String(x.calls_failed),
      String(x.plateau_calls),
      String(x.cpu_pct),
      String(x.calls_per_core),
      String(x.lag_ms.p50),
      String(x.lag_ms.p99),
      String(x.setup_ms.p99),
      String(x.dtmf_received),
      String(x.engine_dropped_frames),
      String(r.max_calls_under_20ms_p99),
    ]),
  ];
}
