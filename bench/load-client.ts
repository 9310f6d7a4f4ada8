/**
 * The client side of `bench load`, run as a SEPARATE process (child_process.fork) so that the caller's CPU is not
 * the engine's: N concurrent Twilio-protocol calls against 127.0.0.1, each streaming 20 ms mu-law frames in real
 * time on its own schedule (starts spread over 20 ms, as real calls are not phase-aligned) and receiving the
 * paced echo back.
 *
 * Each frame carries its index in its first 3 bytes (base64 of 3 bytes is 4 characters, so the payload is those 4
 * characters + a constant tail: no encoding per frame). The engine reads the index to measure inbound lag against
 * this schedule; this side measures the inter-arrival of returned frames (jitter vs 20 ms) and counts frames that
 * never came back. One timer drives every call.
 *
 * IPC: parent -> {type:'run', port, calls, durationS[, scripts]}; child -> {type:'clock', now} on {type:'ping'};
 * child -> {type:'result', ...} at the end. Full mode (`scripts` set): parent -> {type:'deepgram'} starts the
 * loopback Deepgram fake here (child -> {type:'deepgram', url}), and each call streams a real-speech script.
 */
import WebSocket from 'ws';
import { callSeconds } from './load-cost.js';
import { type ClientResult, DEFAULT_ARRIVALS_PER_S } from './load-ipc.js';
import { percentile } from './stats.js';

interface RunMsg {
  type: 'run';
  port: number;
  calls: number;
  durationS: number;
  /** Send 'streamed' when the last frame is sent and wait for the parent's reply before hanging up. */
  sampleAtEnd?: boolean;
  /** The assistant key in the stream URL (default ast_load: the in-process bench engine takes any key). */
  key?: string;
  /** Calls opened per second (default DEFAULT_ARRIVALS_PER_S). */
  arrivalsPerS?: number;
  /** full mode: caller scripts (base64 mu-law frames) and the ends of their turns, ms into the script. */
  scripts?: { frames: string[]; turnEnds: number[] }[];
}

type Part = { text: string; startMs: number; endMs: number };

const FRAME_MS = 20;
const TAIL = Buffer.alloc(157, 0x55).toString('base64'); // 157 bytes after the 3-byte index (160 in all)

function now(): number {
  return performance.timeOrigin + performance.now();
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_VALUE[B64.charCodeAt(i)] = i;

function indexB64(i: number): string {
  return Buffer.from([(i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff]).toString('base64');
}

const PAYLOAD_KEY = Buffer.from('"payload":"');

/**
 * The frame index from the first 4 base64 characters of the payload, read in place: no string, no Buffer per
 * message (the engine frames every media message as `{"event":"media","streamSid":"…","media":{"payload":"…`).
 */
function decodeIndex(msg: Buffer): number {
  const at = msg.indexOf(PAYLOAD_KEY, 30);
  if (at < 0 || at + 15 > msg.length) return -1;
  let v = 0;
  for (let k = at + 11; k < at + 15; k++) {
    const d = B64_VALUE[msg[k]! & 0x7f]!;
    if (d < 0 || msg[k]! > 0x7f) return -1;
    v = (v << 6) | d;
  }
  return v; // 24 bits: the 3 index bytes
}

/**
 * The media messages of every call, built once per run and shared: what varies per frame (sequence number, chunk,
 * timestamp, the index in the payload) is the same for every call, so each message is `head[i] + streamSid +
 * tail[i]`, joined by V8 without copying (no JSON.stringify, no base64 per frame).
 */
function mediaParts(frames: number): { head: string[]; tail: string[] } {
  const head: string[] = [];
  const tail: string[] = [];
  for (let i = 0; i < frames; i++) {
    head.push(`{"event":"media","sequenceNumber":"${i + 2}","streamSid":"`);
    tail.push(
      `","media":{"track":"inbound","chunk":"${i + 1}","timestamp":"${i * FRAME_MS}","payload":"${indexB64(i)}${TAIL}"}}`,
    );
  }
  return { head, tail };
}

/**
 * A zero masking key: ws then sends client frames as they are instead of copying and XOR-ing each one. RFC 6455
 * wants the key unpredictable to protect intermediaries' caches; there are none on loopback, and the engine (any
 * server) unmasks whatever the key is, so its side of the cost is unchanged.
 */
function zeroMask(mask: Uint8Array): void {
  mask.fill(0);
}

/** One simulated platform call: the socket, the connected + start messages, how it ended. */
abstract class ClientCall {
  readonly ws: WebSocket;
  sent = 0;
  open = false;
  closedEarly = false;
  /** HTTP status of a refused upgrade (429: a per-IP cap of the engine), 0 when the call connected. */
  refusedStatus = 0;
  /** The close code and reason of a call closed before its last frame. */
  closedWith = '';
  protected readonly sid: string;

  constructor(
    readonly id: number,
    port: number,
    readonly t0: number,
    readonly frames: number,
    key: string,
  ) {
    this.sid = `MZ${id.toString(16).padStart(32, '0')}`;
    this.ws = new WebSocket(`ws://127.0.0.1:${port}/media/twilio/${key}`, {
      perMessageDeflate: false,
      generateMask: zeroMask,
      skipUTF8Validation: true,
    });
    this.ws.on('open', () => {
      this.open = true;
      this.ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}');
      this.ws.send(
        JSON.stringify({
          event: 'start',
          sequenceNumber: '1',
          streamSid: this.sid,
          start: {
            streamSid: this.sid,
            accountSid: 'AC0',
            callSid: `CA${id}`,
            tracks: ['inbound'],
            customParameters: { t0: String(t0), call: String(id) },
            mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
          },
        }),
      );
    });
    this.ws.on('message', (data: Buffer) => this.onMessage(data));
    this.ws.on('close', (code, reason) => {
      if (this.sent < this.frames) {
        this.closedEarly = true;
        this.closedWith = `${code} ${reason.toString().slice(0, 60)}`.trim();
      }
      this.open = false;
    });
    this.ws.on('error', () => {});
    this.ws.on('unexpected-response', (_req, res) => {
      this.refusedStatus = res.statusCode ?? 0;
      res.resume();
      this.ws.terminate();
    });
  }

  protected abstract onMessage(data: Buffer): void;
}

class Call extends ClientCall {
  received = 0;
  lastArrival = -1;
  private readonly seen: Uint8Array;

  constructor(
    id: number,
    port: number,
    t0: number,
    frames: number,
    private readonly jitter: Samples,
    key: string,
    private readonly parts: { head: string[]; tail: string[] },
  ) {
    super(id, port, t0, frames, key);
    this.seen = new Uint8Array(frames);
  }

  protected onMessage(data: Buffer): void {
    const t = now();
    const idx = decodeIndex(data);
    if (idx < 0 || idx >= this.frames || this.seen[idx]) return;
    this.seen[idx] = 1;
    this.received++;
    if (this.lastArrival >= 0) this.jitter.add(Math.abs(t - this.lastArrival - FRAME_MS));
    this.lastArrival = t;
  }

  /** Sends every frame due by `t`; returns how late the latest one was (ms). */
  pump(t: number): number {
    if (!this.open) return 0;
    let late = 0;
    while (this.sent < this.frames) {
      const due = this.t0 + this.sent * FRAME_MS;
      if (due > t) break;
      late = t - due;
      const i = this.sent++;
      this.ws.send(this.parts.head[i]! + this.sid + this.parts.tail[i]!);
    }
    return late;
  }
}

/** A bounded sample buffer allocated once (no array growth while streaming). */
class Samples {
  private readonly a: Float64Array;
  n = 0;
  constructor(max: number) {
    this.a = new Float64Array(max);
  }
  add(v: number): void {
    if (this.n < this.a.length) this.a[this.n++] = v;
  }
  sorted(): Float64Array {
    return this.a.subarray(0, this.n).sort();
  }
}

/**
 * A full-mode call: streams a real-speech caller script in a loop (open loop: the script leaves the agent time to
 * answer), echoes marks as a platform does once audio is queued, and records when agent audio arrives, for the
 * per-turn latency under load (end of a caller turn -> first agent audio after it).
 */
class FullCall extends ClientCall {
  readonly arrivals: number[] = [];
  constructor(
    id: number,
    port: number,
    t0: number,
    frames: number,
    readonly script: { frames: string[]; turnEnds: number[] },
  ) {
    super(id, port, t0, frames, 'ast_load');
  }

  protected onMessage(data: Buffer): void {
    const s = data.toString('latin1', 0, 24);
    if (s.startsWith('{"event":"media"')) this.arrivals.push(now());
    else if (s.includes('"mark"')) {
      const m = JSON.parse(data.toString()) as { mark?: { name?: string } };
      this.ws.send(JSON.stringify({ event: 'mark', streamSid: this.sid, mark: { name: m.mark?.name } }));
    }
  }

  pump(t: number): number {
    if (!this.open) return 0;
    let late = 0;
    const n = this.script.frames.length;
    while (this.sent < this.frames) {
      const due = this.t0 + this.sent * FRAME_MS;
      if (due > t) break;
      late = t - due;
      const i = this.sent++;
      this.ws.send(
        `{"event":"media","sequenceNumber":"${i + 2}","streamSid":"${this.sid}","media":{"track":"inbound","chunk":"${i + 1}","timestamp":"${i * FRAME_MS}","payload":"${this.script.frames[i % n]}"}}`,
      );
    }
    return late;
  }

  /**
   * End of each caller turn sent -> the start of agent audio after it, ms (undefined when none within 5 s), with
   * the turn's end in the looped script, ms.
   */
  turnLatencies(): { at: number; ms: number | undefined }[] {
    const out: { at: number; ms: number | undefined }[] = [];
    const scriptMs = this.script.frames.length * FRAME_MS;
    const sentMs = this.sent * FRAME_MS;
    for (let loop = 0; loop * scriptMs < sentMs; loop++) {
      for (const e of this.script.turnEnds) {
        const at = loop * scriptMs + e;
        if (at > sentMs - 5000) continue;
        const end = this.t0 + at;
        // The start of an agent reply after the turn: audio that follows a gap, not the tail of an earlier one.
        const a = this.arrivals;
        let first: number | undefined;
        for (let k = 0; k < a.length; k++) {
          if (a[k]! > end && (k === 0 || a[k]! - a[k - 1]! > 200)) {
            first = a[k];
            break;
          }
        }
        out.push({ at, ms: first !== undefined && first - end < 5000 ? first - end : undefined });
      }
    }
    return out;
  }
}

async function runFull(msg: RunMsg & { scripts: { frames: string[]; turnEnds: number[] }[] }): Promise<void> {
  const frames = Math.round((msg.durationS * 1000) / FRAME_MS);
  const lateness: number[] = [];
  const start = now() + 1000 + Math.min(4000, msg.calls * 10);
  const calls: FullCall[] = [];
  for (let i = 0; i < msg.calls; i++) {
    calls.push(
      new FullCall(i, msg.port, start + (i * FRAME_MS) / msg.calls, frames, msg.scripts[i % msg.scripts.length]!),
    );
  }
  const end = start + frames * FRAME_MS + FRAME_MS;
  const cpu0 = process.cpuUsage();
  const wall0 = now();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const t = now();
      let worst = 0;
      for (const c of calls) {
        const l = c.pump(t);
        if (l > worst) worst = l;
      }
      if (t >= start) lateness.push(worst);
      if (t >= end) resolve();
      else setTimeout(tick, 2);
    };
    tick();
  });
  const cpu = process.cpuUsage(cpu0);
  const lat: number[] = [];
  let ignored = 0;
  const results: [number, number, number | null][] = [];
  let sent = 0;
  let closedEarly = 0;
  let notConnected = 0;
  const refused: Record<number, number> = {};
  const closes: Record<string, number> = {};
  for (const c of calls) {
    for (const { at, ms } of c.turnLatencies()) {
      results.push([c.id, at, ms ?? null]);
      if (ms === undefined) ignored++;
      else lat.push(ms);
    }
    sent += c.sent;
    if (c.closedEarly) closedEarly++;
    if (c.sent === 0) notConnected++;
    if (c.refusedStatus) refused[c.refusedStatus] = (refused[c.refusedStatus] ?? 0) + 1;
    if (c.closedWith && !c.refusedStatus) closes[c.closedWith] = (closes[c.closedWith] ?? 0) + 1;
    c.ws.close();
  }
  const l = Float64Array.from(lateness).sort();
  const t = Float64Array.from(lat).sort();
  process.send?.({
    type: 'result',
    frames_sent: sent,
    frames_received: 0,
    closed_early: closedEarly,
    not_connected: notConnected,
    refused_by_status: refused,
    closed_early_by_code: closes,
    jitter_p50: 0,
    jitter_p99: 0,
    client_send_late_p99: percentile(l, 99),
    client_cpu_pct: ((cpu.user + cpu.system) / 1000 / (now() - wall0)) * 100,
    turn_latency_p50: percentile(t, 50),
    turn_latency_p95: percentile(t, 95),
    turns: lat.length,
    turns_unanswered: ignored,
    turn_results: results,
  });
  await new Promise((r) => setTimeout(r, 200));
  process.exit(0);
}

async function run(msg: RunMsg): Promise<void> {
  if (msg.scripts) return runFull({ ...msg, scripts: msg.scripts });
  const frames = Math.round((msg.durationS * 1000) / FRAME_MS);
  const jitter = new Samples(msg.calls * frames);
  const lateness = new Samples(Math.ceil(((msg.durationS + 2) * 1000) / 2) + 1000);
  const parts = mediaParts(frames);
  const key = msg.key ?? 'ast_load';
  // Calls arrive at `arrivalsPerS` (a platform's calls do not all start in the same millisecond, and each start
  // costs the engine a store round trip); streaming starts 500 ms after the last one opened, so that setup does
  // not count as lag.
  const rate = msg.arrivalsPerS ?? DEFAULT_ARRIVALS_PER_S;
  const start = now() + 500 + (1000 * msg.calls) / rate;
  const calls: Call[] = [];
  const phase = (i: number) => start + (i * FRAME_MS) / msg.calls;
  await new Promise<void>((resolve) => {
    const t0 = now();
    const open = (): void => {
      const due = Math.min(msg.calls, Math.floor(((now() - t0) * rate) / 1000) + 1);
      while (calls.length < due) {
        const i = calls.length;
        calls.push(new Call(i, msg.port, phase(i), frames, jitter, key, parts));
      }
      if (calls.length < msg.calls) setTimeout(open, 5);
      else resolve();
    };
    open();
  });
  // Steady state, for a parent that samples the engine over it: after call setup and the first second of streaming
  // (warm-up), until the last frame is sent (before the hang-ups). This side's CPU is measured over it too.
  let cpuSteady: NodeJS.CpuUsage | undefined;
  let wallSteady = 0;
  let sentSteady = 0;
  const sentFrames = (): number => {
    let n = 0;
    for (const c of calls) n += c.sent;
    return n;
  };
  const steady = setTimeout(
    () => {
      cpuSteady = process.cpuUsage();
      wallSteady = now();
      sentSteady = sentFrames();
      process.send?.({ type: 'steady' });
    },
    Math.max(0, start + 1000 - now()),
  );
  const end = start + frames * FRAME_MS + FRAME_MS;
  // One timer for every call. Calls are due in a fixed round-robin order (the same period, phases spread over
  // 20 ms): a cursor walks it, so a tick touches only the calls due, not all of them.
  let k = 0;
  let round = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const t = now();
      let worst = 0;
      while (round < frames && phase(k) + round * FRAME_MS <= t) {
        const l = calls[k]!.pump(t);
        if (l > worst) worst = l;
        if (++k === calls.length) {
          k = 0;
          round++;
        }
      }
      if (t >= start) lateness.add(worst);
      if (t >= end) resolve();
      else setTimeout(tick, 2);
    };
    tick();
  });
  const cpu = process.cpuUsage(cpuSteady);
  const wallMs = now() - (cpuSteady ? wallSteady : start);
  const callS = callSeconds(sentFrames() - sentSteady);
  clearTimeout(steady);
  await new Promise<void>((resolve) => {
    // The parent samples the engine now; one that samples over HTTP (bench load --workers) answers 'sampled' when
    // done, and the calls stay up until then.
    process.send?.({ type: 'streamed' });
    if (!msg.sampleAtEnd) return resolve();
    process.once('message', () => resolve());
  });
  // Let the paced echo drain (the engine holds its lead plus whatever a stall queued), then hang up: until every
  // frame is back, or 5 s.
  const drainEnd = now() + 5000;
  while (now() < drainEnd && calls.some((c) => c.open && c.received < c.sent)) {
    await new Promise((r) => setTimeout(r, 50));
  }
  let sent = 0;
  let received = 0;
  let closedEarly = 0;
  let notConnected = 0;
  const refused: Record<number, number> = {};
  const closes: Record<string, number> = {};
  for (const c of calls) {
    sent += c.sent;
    received += c.received;
    if (c.closedEarly) closedEarly++;
    if (c.sent === 0) notConnected++;
    if (c.refusedStatus) refused[c.refusedStatus] = (refused[c.refusedStatus] ?? 0) + 1;
    if (c.closedWith && !c.refusedStatus) closes[c.closedWith] = (closes[c.closedWith] ?? 0) + 1;
    c.ws.close();
  }
  const j = jitter.sorted();
  const l = lateness.sorted();
  process.send?.({
    type: 'result',
    frames_sent: sent,
    frames_received: received,
    closed_early: closedEarly,
    not_connected: notConnected,
    refused_by_status: refused,
    closed_early_by_code: closes,
    jitter_p50: percentile(j, 50),
    jitter_p99: percentile(j, 99),
    client_send_late_p99: percentile(l, 99),
    client_cpu_pct: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    client_cpu: { user_ms: cpu.user / 1000, system_ms: cpu.system / 1000, wall_ms: wallMs, call_s: callS },
  } satisfies ClientResult & { type: 'result' });
  await new Promise((r) => setTimeout(r, 200));
  process.exit(0);
}

process.on('message', (m: { type: string; firstByteMs?: number; heard?: { mulaw: string; parts: Part[] }[] }) => {
  if (m.type === 'ping') process.send?.({ type: 'clock', now: now() });
  else if (m.type === 'run') void run(m as RunMsg);
  else if (m.type === 'deepgram') {
    // full mode: the loopback Deepgram fake runs here, so that its CPU is the client's, not the engine's.
    // It hears what each caller says (bench/fakes/script-hearing.ts).
    void Promise.all([import('./fakes/deepgram.js'), import('./fakes/script-hearing.js')]).then(async ([dg, sh]) => {
      const heard = (m.heard ?? []).map((h) => ({ mulaw: Buffer.from(h.mulaw, 'base64'), parts: h.parts }));
      const fake = await dg.startDeepgramFake({
        segmentation: 'energy',
        firstByteMs: m.firstByteMs ?? 150,
        hear: sh.scriptHearing(heard),
      });
      process.send?.({ type: 'deepgram', url: fake.url });
    });
  }
});
