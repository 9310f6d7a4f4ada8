/**
 * The engine side of `bench load --mode full`: every call runs the whole path of a real call, in this process:
 * the media gateway (Twilio protocol), a CallSession with the VAD (WebRTC, the default), the DTMF detector and the
 * tone guard, streaming ASR through the real Deepgram adapter over a real WebSocket to the loopback Deepgram fake
 * (bench/fakes/deepgram.ts, energy segmentation, hearing the words of the caller's script; it runs in the CLIENT
 * process so that its CPU is not counted as the engine's), the `rules` LLM, a scripted TTS (bench/scripted.ts) with the profile's first-byte latency, the
 * shared-clock pacer, and call recording (stereo WAV) on.
 *
 * Inbound lag is read off each call's wire tap (MediaLeg.setWireTap: every inbound message with its arrival time):
 * the arrival of media chunk i minus the client's schedule for it (t0 + 20 ms x i), as in echo mode.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AssistantConfig } from '../src/assistant.js';
import { startLocalEngine } from '../src/call/local-engine.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { createProviderRegistry } from '../src/providers/registry.js';
import type { GatewayLimits } from '../src/telephony/gateway-types.js';
import type { Pacer } from '../src/telephony/pacer.js';
import { loadRealSpeech, type RealUtterance } from './callers.js';
import { jitterOf, type ProviderProfile } from './profiles.js';
import { ScriptedTts } from './scripted.js';

export interface FullEngine {
  port: number;
  /** Outbound frames the engine dropped, and inbound chunks that never arrived (sequence gaps in the taps). */
  dropped(): { engine: number; inboundMissing: number };
  pacerMaxLateMs(): number;
  turnsCommitted(): number;
  /** What each caller said, what the engine heard and did with it (after the run). */
  turnReport(scripts: FullScript[], client: [number, number, number | null][]): TurnReport;
  close(): Promise<void>;
}

/** One caller utterance of a script, ms into the script. */
export interface ScriptTurn {
  kind: RealUtterance['kind'];
  said: string;
  startMs: number;
  endMs: number;
}

/** A full-mode caller script: 20 ms mu-law frames (base64), looped, and what is said when. */
export interface FullScript {
  frames: string[];
  /** Ends of the turns that want an answer (all but the acknowledgement), ms into the script. */
  turnEnds: number[];
  /** Every utterance, the acknowledgement included. */
  turns: ScriptTurn[];
  /** Every part said, ms into the script (what the Deepgram fake hears). */
  parts: { text: string; startMs: number; endMs: number }[];
}

/** Caller scripts for full mode: real-speech turns with room for the agent to answer. */
export async function fullScripts(): Promise<FullScript[]> {
  const speech = await loadRealSpeech();
  const silence = (ms: number): Uint8Array => new Uint8Array((ms / 20) * 160).fill(0xff);
  const scripts: FullScript[] = [];
  for (let v = 0; v < 3; v++) {
    const pick = <T>(a: T[]): T => a[v % a.length]!;
    const pieces: { audio: Uint8Array; turn?: RealUtterance }[] = [
      { audio: silence(3000) }, // the greeting
      { audio: new Uint8Array(0), turn: pick(speech.questions) },
      { audio: silence(1500) },
      { audio: new Uint8Array(0), turn: pick(speech.acknowledgements) },
      { audio: silence(1000) },
      { audio: new Uint8Array(0), turn: pick(speech.bargeIns) },
      { audio: silence(3500) },
      { audio: new Uint8Array(0), turn: pick(speech.hesitations) },
      { audio: silence(3500) },
      { audio: new Uint8Array(0), turn: pick(speech.twoSentences) },
      { audio: silence(3500) },
    ];
    const script: FullScript = { frames: [], turnEnds: [], turns: [], parts: [] };
    for (const p of pieces) {
      const startMs = script.frames.length * 20;
      const audio = p.turn?.mulaw ?? p.audio;
      for (let i = 0; i + 160 <= audio.length; i += 160)
        script.frames.push(Buffer.from(audio.subarray(i, i + 160)).toString('base64'));
      const t = p.turn;
      if (!t) continue;
      const endMs = startMs + t.parts.at(-1)!.endMs;
      if (t.kind !== 'acknowledgement') script.turnEnds.push(endMs);
      script.turns.push({ kind: t.kind, said: t.parts.map((x) => x.text).join(' '), startMs, endMs });
      for (const x of t.parts)
        script.parts.push({ text: x.text, startMs: startMs + x.startMs, endMs: startMs + x.endMs });
    }
    scripts.push(script);
  }
  return scripts;
}

/** The scripts as the Deepgram fake's hearing takes them (bench/fakes/script-hearing.ts), for the IPC. */
export function heardScripts(scripts: FullScript[]): { mulaw: string; parts: FullScript['parts'] }[] {
  return scripts.map((s) => ({
    mulaw: Buffer.concat(s.frames.map((f) => Buffer.from(f, 'base64'))).toString('base64'),
    parts: s.parts,
  }));
}

/** The report's lines for the bench's progress output. */
export function reportLines(r: TurnReport): string[] {
  const kinds = Object.entries(r.outcomes).map(
    ([k, o]) =>
      `${k} ${Object.entries(o)
        .map(([x, n]) => `${x} ${n}`)
        .join(' ')}`,
  );
  return [
    `  turns unanswered by the engine ${r.turns_unanswered}, without new agent audio within 5 s ${r.turns_without_new_audio}; ${kinds.join('; ')}`,
    ...r.unanswered_detail.map(
      (d) =>
        `    call ${d.call} ${d.kind}: said "${d.said}", heard ${JSON.stringify(d.heard)}: ${d.outcome}, agent audio ${d.audioMs === null ? 'none after a gap' : `${Math.round(d.audioMs)} ms`}`,
    ),
  ];
}

/**
 * What the engine did with one caller utterance: answered (a turn committed, then the agent spoke), an
 * acknowledgement (said over the agent: recorded, no reply), a reprompt (no words), committed without a reply within
 * 5 s, or nothing committed at all.
 */
export type TurnOutcome = 'answered' | 'acknowledgement' | 'reprompt' | 'no_reply' | 'not_committed';

export interface TurnReport {
  /** Turns that want an answer which the engine did not answer (no committed turn followed by agent speech). */
  turns_unanswered: number;
  /** The client's audio rule: turns with no agent audio after a > 200 ms gap within 5 s (noisy under barge-in). */
  turns_without_new_audio: number;
  /** Every utterance by kind and outcome (acknowledgements counted apart from turns). */
  outcomes: Record<string, Partial<Record<TurnOutcome, number>>>;
  /** The turns not answered by either count: what was said, what the engine heard, what it did. */
  unanswered_detail: {
    call: number;
    kind: string;
    said: string;
    heard: string[];
    outcome: TurnOutcome;
    audioMs: number | null;
  }[];
}

const REPLY = 'Sure. Let me look into that for you, it will only take a moment.';

export async function startFullEngine(o: {
  profile: ProviderProfile;
  deepgramUrl: string;
  /** Media limits of the gateway (the bench's one client IP needs a per-IP pending cap of at least its calls). */
  limits?: Partial<GatewayLimits>;
  /** The shared pacing clock (the bench's, recording its tick lateness). */
  pacer?: Pacer;
  /** Called for each inbound media chunk: its index and arrival (wall clock ms), with the leg's client t0. */
  onChunk(t0Client: number, index: number, arrivedWallMs: number): void;
}): Promise<FullEngine> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 've-bench-load-full-'));
  const config = loadConfig({ ...process.env, DEEPGRAM_API_KEY: 'dg-test', DEEPGRAM_BASE_URL: o.deepgramUrl });
  const registry = createProviderRegistry(config, silentLogger);
  const tts = new ScriptedTts({
    firstByteMs: o.profile.ttsFirstByteMs,
    msPerChar: 60,
    jitter: jitterOf(o.profile, 17),
  });
  const assistant: AssistantConfig = {
    firstMessage: 'Hello, this is Acme. How can I help?',
    asr: { provider: 'deepgram' },
    llm: { provider: 'rules', rules: [], fallbackReply: REPLY },
    dtmf: { enabled: true },
    settings: { recordAudio: true, silenceTimeoutMs: 60_000 },
  };
  const engine = await startLocalEngine({
    assistant: {
      id: 'ag_load_full',
      assistantApiKey: 'ast_load',
      tenantId: 't_load',
      config: assistant,
      version: 1,
      createdAt: '',
      updatedAt: '',
    },
    providers: { asr: (c, h) => registry.asr(c, h), llm: (c, h) => registry.llm(c, h), tts: () => tts },
    logger: silentLogger,
    dataDir,
    ...(o.limits ? { limits: o.limits } : {}),
    ...(o.pacer ? { pacer: o.pacer } : {}),
  });
  // Taps go on each call once its session has set (or cleared) its own: polled, not per frame.
  const tapped = new WeakSet<object>();
  const spans: { first: number; last: number; count: number }[] = [];
  /** Per client call number: when each inbound chunk reached its session (performance.now), by chunk index. */
  const arrivals = new Map<number, number[]>();
  const poll = setInterval(() => {
    for (const c of engine.calls) {
      if (tapped.has(c.leg) || !c.leg.setWireTap) continue;
      tapped.add(c.leg);
      const t0 = Number(c.leg.info.customParameters.t0);
      const span = { first: -1, last: -1, count: 0 };
      spans.push(span);
      const arrived: number[] = [];
      arrivals.set(Number(c.leg.info.customParameters.call), arrived);
      c.leg.setWireTap((data, atMs) => {
        if (typeof data !== 'string' || !data.startsWith('{"event":"media"')) return;
        const at = data.indexOf('"chunk":"');
        if (at < 0) return;
        const index = Number.parseInt(data.slice(at + 9, at + 19), 10) - 1;
        if (span.first < 0) span.first = index;
        span.last = index;
        span.count++;
        arrived[index] = atMs;
        o.onChunk(t0, index, performance.timeOrigin + atMs);
      });
    }
  }, 50);
  return {
    port: engine.port,
    dropped: () => ({
      engine: engine.gateway.stats().dropped,
      inboundMissing: spans.reduce((n, s) => n + (s.first < 0 ? 0 : s.last - s.first + 1 - s.count), 0),
    }),
    pacerMaxLateMs: () => engine.gateway.stats().pacerMaxLateMs,
    turnsCommitted: () =>
      engine.calls.reduce(
        (n, c) => n + c.events.filter((e) => e.type === 'state' && e.data.state === 'thinking').length,
        0,
      ),
    turnReport: (scripts, client) => turnReport(engine.calls, arrivals, scripts, client),
    async close() {
      clearInterval(poll);
      await engine.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

type Call = Awaited<ReturnType<typeof startLocalEngine>>['calls'][number];

/**
 * Each caller utterance (client `client`: [call, end in the looped script, latency or null]) against the call's
 * record: its window runs from the utterance's first chunk reaching the session to the next utterance's (at most
 * 5 s after its end); the caller's transcript entries in it are what the engine heard and decided.
 */
function turnReport(
  calls: readonly Call[],
  arrivals: Map<number, number[]>,
  scripts: FullScript[],
  client: [number, number, number | null][],
): TurnReport {
  const byCall = new Map(calls.map((c) => [Number(c.leg.info.customParameters.call), c]));
  const report: TurnReport = { turns_unanswered: 0, turns_without_new_audio: 0, outcomes: {}, unanswered_detail: [] };
  const audio = new Map(client.map(([call, at, ms]) => [`${call}:${at}`, ms]));
  for (const [id, arrived] of arrivals) {
    const call = byCall.get(id);
    const script = scripts[id % scripts.length]!;
    if (!call) continue;
    const scriptMs = script.frames.length * 20;
    const sentMs = arrived.length * 20;
    for (let loop = 0; loop * scriptMs < sentMs; loop++) {
      script.turns.forEach((t, k) => {
        const base = loop * scriptMs;
        if (base + t.endMs > sentMs - 5000) return;
        const from = arrived[Math.floor((base + t.startMs) / 20)];
        const end = arrived[Math.floor((base + t.endMs) / 20)];
        const next = script.turns[k + 1];
        const nextAt = next ? arrived[Math.floor((base + next.startMs) / 20)] : undefined;
        if (from === undefined || end === undefined) return;
        const until = Math.min(end + 5000, nextAt ?? Number.POSITIVE_INFINITY);
        const evs = call.events.filter((e) => e.at >= from && e.at < until);
        const users = evs.filter((e) => e.type === 'transcript' && e.data.role === 'user');
        const heard = users.map((e) => {
          const d = e.data;
          return `${String(d.text)}${d.backchannel ? ' [acknowledgement]' : d.superseded ? ' [merged]' : d.unintelligible ? ' [reprompt]' : ''}`;
        });
        const committed = users.filter((e) => !e.data.backchannel && !e.data.superseded && !e.data.unintelligible);
        // A reply: the agent starts speaking after the commit, within 5 s of the utterance's end.
        const replied = committed.some((u) =>
          call.events.some(
            (e) => e.at > u.at && e.at < end + 5000 && e.type === 'state' && e.data.state === 'agent_speaking',
          ),
        );
        const outcome: TurnOutcome = replied
          ? 'answered'
          : committed.length
            ? 'no_reply'
            : users.some((e) => e.data.backchannel)
              ? 'acknowledgement'
              : users.some((e) => e.data.unintelligible)
                ? 'reprompt'
                : 'not_committed';
        const byKind = report.outcomes[t.kind] ?? {};
        report.outcomes[t.kind] = byKind;
        byKind[outcome] = (byKind[outcome] ?? 0) + 1;
        if (t.kind === 'acknowledgement') return;
        const audioMs = audio.get(`${id}:${base + t.endMs}`);
        if (audioMs === null) report.turns_without_new_audio++;
        if (outcome !== 'answered') report.turns_unanswered++;
        if (outcome !== 'answered' || audioMs === null)
          report.unanswered_detail.push({
            call: id,
            kind: t.kind,
            said: t.said,
            heard,
            outcome,
            audioMs: audioMs ?? null,
          });
      });
    }
  }
  return report;
}
