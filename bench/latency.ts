/**
 * `voice-engine bench latency [--profile fast|realistic|slow] [--json] [--calls N] [--rounds N] [--no-adapters]
 *  [--preemptive on|off] [--vad silero|webrtc|energy] [--tts scripted|http|aura-ws|elevenlabs-ws]
 *  [--matrix [--matrix-rounds N]]`
 * (DESIGN.md section 7).
 *
 * Calls through the REAL WebSocket gateway (Twilio protocol, base64 mu-law, marks echoed after playout) into real
 * call sessions, spoken by a REAL human caller: the utterances of the real-speech fixtures (bench/callers.ts), with
 * in-process providers whose latency follows a profile (bench/profiles.ts; figures and sources in bench/README.md;
 * `realistic` by default: ASR first interim ~300 ms after speech onset, then one every 250 ms with the words said so
 * far, final ~150 ms after the end of a segment; LLM first token ~400 ms, TTS first byte ~200 ms, each with +-25 %
 * seeded jitter). The scripted ASR hears the caller's real audio (energy segmentation) and returns the fixture's
 * words as they are said, with the recognizer's punctuation once a part is over.
 *
 * Each round of a call: a question (agent silent; the answer is long), an acknowledgement ("Thank you." / "Okay.")
 * 1.5 s into that answer, a barge-in 1.5 s later (the caller then waits for the answer), a hesitant turn (a number
 * read with 600-800 ms pauses), a turn of two sentences 260 ms apart. Measured on the caller's side of the socket,
 * on one process clock:
 *  - voice_to_voice_ms: end of caller speech -> first AUDIBLE agent sample the caller hears (20 ms frames above
 *    -50 dBFS, on the playout timeline)
 *  - endpointing_ms: end of caller speech -> turn committed by the session (state `thinking`)
 *  - overhead_ms: voice-to-voice minus endpointing minus the providers' own LLM first token (for a reply prepared
 *    before the commit: what was left of its wait after the commit) and TTS first byte: what the engine adds
 *  - barge_in_ms: barge-in speech onset -> `clear` on the wire (contract); barge_in_audio_stop_ms: onset -> the
 *    agent's audio stops for the caller (400 ms of silence begins)
 *  - premature_cuts: hesitant / two-sentence turns answered in parts (a turn filed before the last part ended and
 *    not taken back) or with agent audio heard before they were over; replies_taken_back: replies started in a
 *    pause and dropped unheard when the caller went on (the turn stayed whole)
 *  - ignored_turns: caller turns with no agent audio within 5 s of their end
 *  - acknowledgements_stopped_agent: acknowledgements after which the agent was silent for 1.5 s (stopped for good)
 * Assistant settings are the defaults (`--preemptive off` turns settings.preemptiveGeneration off). VAD: the engine's
 * default, WebRTC confirmed by Silero (`--vad webrtc`: WebRTC alone; `--vad energy`: the frame-level detector of the
 * scripted tests, deterministic). `--tts` picks the TTS path (bench/tts-paths.ts: a real
 * adapter against its loopback fake); `--matrix` adds voice-to-voice p50 / p95 for every TTS path with and without
 * preemptive generation (shorter sets of `--matrix-rounds`, default 1).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AssistantConfig } from '../src/assistant.js';
import { type LocalEngine, startLocalEngine } from '../src/call/local-engine.js';
import { PhoneSim } from '../src/call/phone-sim.js';
import { energyVadFactory } from '../src/call/vad.js';
import { CliError, EXIT, flagNumber, flagString } from '../src/cli/args.js';
import type { BenchContext } from '../src/cli/bench.js';
import { audibleFrames, Heard } from '../src/cli/replay-check.js';
import { silentLogger } from '../src/log.js';
import type { AsrProvider } from '../src/providers/types.js';
import { loadRealSpeech, type RealSpeechSet, type RealUtterance } from './callers.js';
import { jitterOf, PROFILES, type ProviderProfile, profileNamed } from './profiles.js';
import { type AsrUtterance, lastUser, ScriptedAsr, ScriptedLlm, ScriptedTts, scriptedRegistry } from './scripted.js';
import { startTtsPath, TTS_PATHS, type TtsCounts, type TtsPath } from './tts-paths.js';

const ADAPTERS_TIMEOUT_MS = 60_000;
/** A turn with no agent audio this long after its end is ignored. */
const IGNORED_AFTER_MS = 5000;
/** A streaming recognizer's interim results, after the first: this often while the caller speaks, ms. */
const INTERIM_EVERY_MS = 250;
/** After an acknowledgement, agent silence this long means it stopped for good. */
const ACK_STOPPED_MS = 1500;

const LONG_REPLY =
  'Of course. We have three plans to choose from, and each one comes with a free trial month. The basic plan covers one line, the family plan covers four lines, and the business plan adds priority support. You can switch plans at any time from your account page, and the change applies from the next bill.';
const SHORT_REPLY = 'Sure, I can help with that.';

interface Stats {
  p50: number;
  p95: number;
  p99: number;
}

function pct(values: number[]): Stats {
  const v = [...values].sort((a, b) => a - b);
  const at = (p: number): number =>
    v.length ? v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)]! : Number.NaN;
  const r = (x: number): number => Math.round(x * 10) / 10;
  return { p50: r(at(50)), p95: r(at(95)), p99: r(at(99)) };
}

const sleepUntil = async (t: number): Promise<void> => {
  const wait = t - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
};

const SILENCE = new Uint8Array(160).fill(0xff);

/** The caller's side of one call: paced 20 ms frames of real speech, and what it is saying for the scripted ASR. */
export class RealCaller {
  private clock = performance.now();
  /** The parts of the utterance being said (or said last), the audio position in it, and words delivered. */
  private parts: RealUtterance['parts'] = [];
  private posMs = 0;
  private delivered: number[] = [];
  constructor(readonly sim: PhoneSim) {}

  /**
   * What the recognizer has heard of the current part so far: its words in proportion to the part's audio sent
   * (all of them, with the part's punctuation, once it has ended), less those a final already delivered. `final`
   * delivers them. A real recognizer's interims grow the same way; its finals never repeat words.
   */
  heard(final: boolean): AsrUtterance | undefined {
    let i = -1;
    for (let k = 0; k < this.parts.length; k++) if (this.parts[k]!.startMs <= this.posMs) i = k;
    const p = this.parts[i];
    if (!p) return undefined;
    const words = p.text.split(/\s+/).filter(Boolean);
    const f = (this.posMs - p.startMs) / Math.max(1, p.endMs - p.startMs);
    const upTo = f >= 0.95 ? words.length : Math.max(1, Math.floor(f * words.length));
    const from = this.delivered[i] ?? 0;
    const text = words.slice(from, Math.max(from, upTo)).join(' ');
    if (final) this.delivered[i] = Math.max(from, upTo);
    return { text, partial: text };
  }

  /**
   * Speaks `u` in real time. Returns the send times (performance.now()) of its speech onset, of the end of each
   * part, and of its last frame.
   */
  async say(u: RealUtterance, onFrame?: (atMs: number) => void): Promise<{ onset: number; partEnds: number[] }> {
    let onset = 0;
    const partEnds: number[] = [];
    const frames = u.mulaw.length / 160;
    let part = 0;
    this.parts = u.parts;
    this.delivered = [];
    for (let i = 0; i < frames; i++) {
      if (this.sim.closed) break;
      const t = i * 20;
      this.posMs = t + 20;
      const p = u.parts[part];
      // A frame is sent when its audio is complete: speech that starts inside it began (end - 20 + offset).
      if (p && part === 0 && !onset && t + 20 > p.startMs) onset = performance.now() + (p.startMs - t);
      this.sim.sendFrame(u.mulaw.subarray(i * 160, (i + 1) * 160));
      onFrame?.(t);
      if (p && t + 20 >= p.endMs) {
        partEnds.push(performance.now() - (t + 20 - p.endMs));
        part++;
      }
      this.clock += 20;
      await sleepUntil(this.clock);
    }
    this.posMs = Number.POSITIVE_INFINITY;
    return { onset, partEnds };
  }

  async silence(ms: number): Promise<void> {
    for (let i = 0; i < ms / 20 && !this.sim.closed; i++) {
      this.sim.sendFrame(SILENCE);
      this.clock += 20;
      await sleepUntil(this.clock);
    }
  }

  /** Silence until `cond` holds (or `maxMs`). */
  async silenceUntil(cond: () => boolean, maxMs: number): Promise<boolean> {
    const end = performance.now() + maxMs;
    while (!cond()) {
      if (performance.now() > end || this.sim.closed) return false;
      await this.silence(20);
    }
    return true;
  }
}

interface TurnSample {
  kind: string;
  from: string;
  /** performance.now() of the onset and of the end of the turn's speech. */
  onsetAt: number;
  endAt: number;
  commitAt?: number;
  /** Several parts: committed as a turn of its own before the last part ended (and not taken back). */
  split?: boolean;
  /** Several parts: a reply was started in a pause, then dropped unheard when the caller went on. */
  takenBack?: number;
}

interface CallResult {
  voiceToVoice: number[];
  endpointing: number[];
  overhead: number[];
  bargeIn: number[];
  bargeInAudioStop: number[];
  hesitationTurns: number;
  twoSentenceTurns: number;
  prematureCuts: { hesitation: number; twoSentences: number };
  /** Replies started in a pause of a multi-part turn and dropped unheard (the turn stayed whole). */
  takenBack: { hesitation: number; twoSentences: number };
  ignoredTurns: number;
  acknowledgements: number;
  ackStoppedAgent: number;
  missed: number;
  detail: { kind: string; from: string; endpointing?: number; voiceToVoice?: number; overhead?: number }[];
}

/**
 * Per-call ASR: the session asks the registry for its ASR once per call, in the order calls start (the bench
 * starts them one at a time), so each call's recognizer hears its own caller.
 */
class PerCallAsr {
  private readonly queue: RealCaller[] = [];
  constructor(private readonly profile: ProviderProfile) {}
  expect(c: RealCaller): void {
    this.queue.push(c);
  }
  next(): AsrProvider {
    const c = this.queue.shift();
    return new ScriptedAsr({
      script: [],
      saying: (final) => c?.heard(final),
      interimEveryMs: INTERIM_EVERY_MS,
      partialAfterMs: this.profile.asrFirstInterimMs,
      finalLatencyMs: this.profile.asrFinalMs,
      segmentGapMs: this.profile.asrSegmentGapMs,
      jitter: jitterOf(this.profile, 7 + this.queue.length),
    });
  }
}

async function oneCall(
  engine: LocalEngine,
  index: number,
  rounds: number,
  speech: RealSpeechSet,
  asrs: PerCallAsr,
): Promise<CallResult> {
  const res: CallResult = {
    voiceToVoice: [],
    endpointing: [],
    overhead: [],
    bargeIn: [],
    bargeInAudioStop: [],
    hesitationTurns: 0,
    twoSentenceTurns: 0,
    prematureCuts: { hesitation: 0, twoSentences: 0 },
    takenBack: { hesitation: 0, twoSentences: 0 },
    ignoredTurns: 0,
    acknowledgements: 0,
    ackStoppedAgent: 0,
    missed: 0,
    detail: [],
  };
  const sim = await PhoneSim.connect({ url: engine.url('twilio'), protocol: 'twilio', callId: `CAbench${index}` });
  const caller = new RealCaller(sim);
  asrs.expect(caller);
  const clears: number[] = [];
  sim.onEvent = (e) => {
    if (e.type === 'clear') clears.push(sim.t0 + e.at);
  };
  await caller.silenceUntil(() => engine.calls.length > index, 3000);
  const call = engine.calls[index]!;
  const commits = (): number[] =>
    call.events.filter((e) => e.type === 'state' && e.data.state === 'thinking').map((e) => e.at);
  const turnMetrics = () => call.events.filter((e) => e.type === 'turn');
  const agentQuiet = (): boolean => !sim.agentPlaying && sim.nowMs() - sim.lastAgentAudioAt > 300;
  const turns: TurnSample[] = [];
  const barges: { onset: number }[] = [];
  const acks: { start: number; end: number }[] = [];

  /** Caller turns filed by the session (transcript entries), with whether each was later taken back. */
  const userTurns = (): { at: number; superseded: boolean }[] => {
    const ev = call.events.filter((e) => e.type === 'transcript' && e.data.role === 'user');
    const gone = ev.filter((e) => e.data.superseded === true);
    return ev
      .filter((e) => !e.data.superseded && !e.data.backchannel && !e.data.unintelligible)
      .map((e) => ({
        at: e.at,
        superseded: gone.some((g) => g.data.turn === e.data.turn && g.data.atMs === e.data.atMs),
      }));
  };
  /** After a turn's speech: the commit that follows its end, then the answer's first audio (or a timeout). */
  const answered = async (sample: TurnSample, before: number): Promise<void> => {
    const end = sample.endAt;
    // Endpointing of the turn: the commit that follows the end of its speech (an early one is counted apart).
    const after = (): number | undefined =>
      commits()
        .slice(before)
        .find((c) => c >= end - 20);
    const committed = await caller.silenceUntil(() => after() !== undefined, 6000);
    if (committed) sample.commitAt = after();
    turns.push(sample);
    await caller.silenceUntil(() => sim.lastAgentAudioAt + sim.t0 > end, IGNORED_AFTER_MS);
  };

  /** A caller turn while the agent is silent: returns when it is answered (or not). */
  const turn = async (u: RealUtterance): Promise<void> => {
    const before = commits().length;
    const filed = userTurns().length;
    const { onset, partEnds } = await caller.say(u);
    const end = partEnds.at(-1) ?? performance.now();
    const sample: TurnSample = { kind: u.kind, from: u.from, onsetAt: onset, endAt: end };
    if (u.parts.length > 1) {
      // Filed before the last part ended: the turn was split unless the session took it back.
      const early = userTurns()
        .slice(filed)
        .filter((t) => t.at < end - 20);
      sample.split = early.some((t) => !t.superseded);
      sample.takenBack = early.filter((t) => t.superseded).length;
    }
    await answered(sample, before);
  };

  for (let r = 0; r < rounds && !sim.closed; r++) {
    const q = speech.questions[(index + r) % speech.questions.length]!;
    await turn(q);
    // The answer is long: an acknowledgement 1.5 s into it, then a barge-in.
    await caller.silence(1500);
    const ack = speech.acknowledgements[(index + r) % speech.acknowledgements.length]!;
    const a = await caller.say(ack);
    acks.push({ start: a.onset, end: a.partEnds.at(-1) ?? performance.now() });
    res.acknowledgements++;
    await caller.silence(1500);
    const barge = speech.bargeIns[(index + r) % speech.bargeIns.length]!;
    const clearsBefore = clears.length;
    const beforeBarge = commits().length;
    const b = await caller.say(barge);
    barges.push({ onset: b.onset });
    await caller.silenceUntil(() => clears.length > clearsBefore, 1000);
    if (clears.length > clearsBefore) res.bargeIn.push(clears[clearsBefore]! - b.onset);
    else res.missed++;
    // The caller waits for the answer to their interruption, as a real one does.
    const bargeEnd = b.partEnds.at(-1) ?? performance.now();
    await answered({ kind: 'barge-in', from: barge.from, onsetAt: b.onset, endAt: bargeEnd }, beforeBarge);
    await caller.silenceUntil(agentQuiet, 15_000);
    await caller.silence(300);
    const h = speech.hesitations[(index + r) % speech.hesitations.length]!;
    await turn(h);
    res.hesitationTurns++;
    await caller.silenceUntil(agentQuiet, 15_000);
    await caller.silence(300);
    const two = speech.twoSentences[(index + r) % speech.twoSentences.length]!;
    await turn(two);
    res.twoSentenceTurns++;
    await caller.silenceUntil(agentQuiet, 15_000);
    await caller.silence(300);
  }
  await sim.stop();

  // What the caller heard, on the call timeline (ms since the stream started).
  const heard = new Heard({ audible: audibleFrames(sim.agentTrack(sim.nowMs())), callMs: (ms) => ms });
  const rel = (abs: number): number => abs - sim.t0;
  const metrics = turnMetrics();
  for (const t of turns) {
    const end = rel(t.endAt);
    const first = heard.onset(end, end + IGNORED_AFTER_MS);
    // A premature cut: the turn answered in parts, or agent audio the caller heard before the turn was over.
    if (t.split !== undefined) {
      const set = t.kind === 'hesitation' ? 'hesitation' : 'twoSentences';
      if (t.split || heard.any(rel(t.onsetAt), end)) res.prematureCuts[set]++;
      res.takenBack[set] += t.takenBack ?? 0;
    }
    if (first === undefined && !heard.at(end + 200)) {
      res.ignoredTurns++;
      res.detail.push({ kind: t.kind, from: t.from });
      continue;
    }
    const v2v = first !== undefined ? first - end : undefined;
    const ep = t.commitAt !== undefined ? t.commitAt - t.endAt : undefined;
    // The session's turn metrics are emitted at the reply's first audio: the first after this commit.
    const commitAt = t.commitAt;
    const m = commitAt !== undefined ? metrics.find((x) => x.at > commitAt)?.data : undefined;
    // The providers' part: the LLM's first token (for a reply prepared before the commit, only what was left of
    // its wait after the commit) and the TTS first byte.
    const marks = m?.marks as Record<string, number> | undefined;
    const llmWait =
      m?.preemptive && marks?.llmFirstTokenAt !== undefined && marks.committedAt !== undefined
        ? Math.max(0, marks.llmFirstTokenAt - marks.committedAt)
        : Number(m?.llmFirstTokenMs ?? 0);
    const providers = m ? llmWait + Number(m.ttsFirstByteMs ?? 0) : undefined;
    const overhead =
      v2v !== undefined && ep !== undefined && providers !== undefined ? v2v - ep - providers : undefined;
    if (v2v !== undefined && t.kind !== 'barge-in') res.voiceToVoice.push(v2v);
    if (ep !== undefined) res.endpointing.push(ep);
    if (overhead !== undefined && Number.isFinite(overhead)) res.overhead.push(overhead);
    res.detail.push({
      kind: t.kind,
      from: t.from,
      endpointing: ep !== undefined ? Math.round(ep) : undefined,
      voiceToVoice: v2v !== undefined ? Math.round(v2v) : undefined,
      overhead: overhead !== undefined ? Math.round(overhead) : undefined,
    });
  }
  for (const b of barges) {
    const onset = rel(b.onset);
    if (heard.any(onset - 300, onset)) res.bargeInAudioStop.push(Math.max(0, heard.stop(onset) - onset));
  }
  for (const a of acks) {
    const start = rel(a.start);
    const end = rel(a.end);
    if (heard.any(start - 300, start) && !heard.any(end, end + ACK_STOPPED_MS)) res.ackStoppedAgent++;
  }
  return res;
}

interface SetOptions {
  calls: number;
  rounds: number;
  /** settings.preemptiveGeneration of the bench assistant. */
  preemptive: boolean;
  tts: TtsPath;
  vad: BenchVad;
}

/**
 * The caller-side VAD: `silero` (the engine's default: WebRTC confirmed by Silero), `webrtc` (WebRTC alone) or
 * `energy` (frame level only; deterministic, what the scripted tests use).
 */
const BENCH_VADS = ['silero', 'webrtc', 'energy'] as const;
type BenchVad = (typeof BENCH_VADS)[number];

/** One set of concurrent real-speech calls against an in-process engine; the calls' results and LLM requests. */
async function measureSet(
  profile: ProviderProfile,
  speech: RealSpeechSet,
  o: SetOptions,
  progress: (line: string) => void,
): Promise<{ results: CallResult[]; llmRequests: number; tts?: TtsCounts }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 've-bench-latency-'));
  const asrs = new PerCallAsr(profile);
  const llm = new ScriptedLlm({
    firstTokenMs: profile.llmFirstTokenMs,
    tokenIntervalMs: profile.llmTokenIntervalMs,
    jitter: jitterOf(profile, 11),
    // A question gets the long answer (talked over next); every other turn a short one.
    respond: (m) => {
      const said = lastUser(m);
      return [
        { text: speech.questions.some((q) => q.parts.some((p) => said.includes(p.text))) ? LONG_REPLY : SHORT_REPLY },
      ];
    },
  });
  const scripted = new ScriptedTts({
    firstByteMs: profile.ttsFirstByteMs,
    msPerChar: 60,
    jitter: jitterOf(profile, 13),
  });
  const server = o.tts === 'scripted' ? undefined : await startTtsPath(o.tts, profile.ttsFirstByteMs);
  const base = scriptedRegistry({ asr: asrs.next(), llm, tts: scripted });
  const config: AssistantConfig = {
    settings: {
      recordAudio: false,
      silenceTimeoutMs: 60_000,
      preemptiveGeneration: o.preemptive,
      ...(o.vad === 'energy' ? {} : { vad: o.vad }),
    },
  };
  const engine = await startLocalEngine({
    assistant: {
      id: 'ag_bench',
      assistantApiKey: 'ast_bench',
      tenantId: 'bench',
      config,
      version: 1,
      createdAt: '',
      updatedAt: '',
    },
    providers: { ...base, asr: () => asrs.next(), ...(server ? { tts: () => server.make() } : {}) },
    logger: silentLogger,
    dataDir,
    ...(o.vad === 'energy' ? { deps: { createVad: energyVadFactory } } : {}),
  });
  progress(
    `latency: profile ${profile.name}, vad ${o.vad}, tts ${o.tts}, preemptive generation ${o.preemptive ? 'on' : 'off'}, ${o.calls} concurrent calls x ${o.rounds} rounds (5 real-speech turns each) over ws://127.0.0.1:${engine.port}/media/twilio`,
  );
  // Calls start one at a time (each call's ASR is handed out in start order), then run concurrently.
  const running: Promise<CallResult>[] = [];
  try {
    for (let i = 0; i < o.calls; i++) {
      running.push(oneCall(engine, i, o.rounds, speech, asrs));
      const t = performance.now();
      while (engine.calls.length <= i && performance.now() - t < 3000) await new Promise((r) => setTimeout(r, 5));
    }
    return {
      results: await Promise.all(running),
      llmRequests: llm.requests.length,
      ...(server ? { tts: { ...server.counts } } : {}),
    };
  } finally {
    await engine.close();
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const onOff = (v: string | undefined, flag: string): boolean => {
  if (v === undefined || v === 'on') return true;
  if (v === 'off') return false;
  throw new CliError(`--${flag} ${v}: on or off`, EXIT.usage);
};

export async function run(ctx: BenchContext): Promise<Record<string, unknown> & { suite: string }> {
  const calls = flagNumber(ctx.args, 'calls', 2);
  const rounds = flagNumber(ctx.args, 'rounds', 3);
  const profileName = flagString(ctx.args, 'profile') ?? 'realistic';
  const profile = profileNamed(profileName);
  if (!profile) throw new CliError(`--profile ${profileName}: one of ${Object.keys(PROFILES).join(', ')}`, EXIT.usage);
  const preemptive = onOff(flagString(ctx.args, 'preemptive'), 'preemptive');
  const ttsPath = (flagString(ctx.args, 'tts') ?? 'scripted') as TtsPath;
  if (!TTS_PATHS.includes(ttsPath)) throw new CliError(`--tts ${ttsPath}: one of ${TTS_PATHS.join(', ')}`, EXIT.usage);
  const matrix = ctx.args.flags.matrix === true;
  const vad = (flagString(ctx.args, 'vad') ?? 'silero') as BenchVad;
  if (!BENCH_VADS.includes(vad)) throw new CliError(`--vad ${vad}: one of ${BENCH_VADS.join(', ')}`, EXIT.usage);
  const speech = await loadRealSpeech();
  const greetingDir = mkdtempSync(path.join(os.tmpdir(), 've-bench-greeting-'));
  const greeting = await greetingLatency(profile, greetingDir);
  rmSync(greetingDir, { recursive: true, force: true });
  const { results, llmRequests } = await measureSet(
    profile,
    speech,
    { calls, rounds, preemptive, tts: ttsPath, vad },
    ctx.progress,
  );

  const all = (k: 'voiceToVoice' | 'endpointing' | 'overhead' | 'bargeIn' | 'bargeInAudioStop'): number[] =>
    results.flatMap((r) => r[k]);
  const sum = (f: (r: CallResult) => number): number => results.reduce((s, r) => s + f(r), 0);
  const out: Record<string, unknown> & { suite: string } = {
    suite: 'latency',
    profile: profile.name,
    turns: all('endpointing').length,
    voice_to_voice_ms: pct(all('voiceToVoice')),
    overhead_ms: pct(all('overhead')),
    endpointing_ms: pct(all('endpointing')),
    barge_in_ms: pct(all('bargeIn')),
    barge_in_audio_stop_ms: pct(all('bargeInAudioStop')),
    barge_ins: all('bargeIn').length,
    premature_cuts: {
      hesitation: sum((r) => r.prematureCuts.hesitation),
      two_sentences: sum((r) => r.prematureCuts.twoSentences),
    },
    replies_taken_back: {
      hesitation: sum((r) => r.takenBack.hesitation),
      two_sentences: sum((r) => r.takenBack.twoSentences),
    },
    hesitation_turns: sum((r) => r.hesitationTurns),
    two_sentence_turns: sum((r) => r.twoSentenceTurns),
    ignored_turns: sum((r) => r.ignoredTurns),
    acknowledgements: sum((r) => r.acknowledgements),
    acknowledgements_stopped_agent: sum((r) => r.ackStoppedAgent),
    missed: sum((r) => r.missed),
    greeting_ms: greeting,
    preemptive_generation: preemptive,
    tts_path: ttsPath,
    llm_requests: llmRequests,
    per_turn: results.flatMap((r) => r.detail),
    calls,
    callers: 'real speech (fixtures/calls/real-*: Debian asterisk-core-sounds-en)',
    providers_ms: {
      asr_first_interim: profile.asrFirstInterimMs,
      asr_final: profile.asrFinalMs,
      llm_first_token: profile.llmFirstTokenMs,
      tts_first_byte: profile.ttsFirstByteMs,
      jitter: profile.jitter,
    },
    settings: { endpointing: 'assistant defaults', vad },
    targets: { barge_in_audio_stop_p95_ms: 150, endpointing_p50_ms: 250, premature_cuts: 0, ignored_turns: 0 },
  };
  if (matrix) {
    // Voice-to-voice per TTS path, with and without preemptive generation: shorter sets (--matrix-rounds).
    const mRounds = flagNumber(ctx.args, 'matrix-rounds', 1);
    const rows: Record<string, unknown>[] = [];
    for (const tts of TTS_PATHS)
      for (const pre of [true, false]) {
        const set = await measureSet(
          profile,
          speech,
          { calls, rounds: mRounds, preemptive: pre, tts, vad },
          ctx.progress,
        );
        const v2v = pct(set.results.flatMap((r) => r.voiceToVoice));
        rows.push({
          tts,
          preemptive_generation: pre,
          voice_to_voice_p50_ms: v2v.p50,
          voice_to_voice_p95_ms: v2v.p95,
          turns: set.results.reduce((n, r) => n + r.voiceToVoice.length, 0),
          llm_requests: set.llmRequests,
          // Which path the calls took: one text stream per reply on the WebSocket paths, per-clause requests else.
          tts_text_streams: set.tts?.textStreams,
          tts_clause_requests: set.tts?.clauseRequests,
          ignored_turns: set.results.reduce((n, r) => n + r.ignoredTurns, 0),
        });
      }
    out.matrix = { calls, rounds: mRounds, rows };
  }
  if (ctx.args.flags['no-adapters'] === true) out.adapters = { skipped: '--no-adapters' };
  else
    try {
      const mod = (await import('./providers.js')) as {
        measureAdapterOverhead?: (rounds?: number) => Promise<unknown>;
      };
      // Bounded: a measurement that cannot finish (a fake misbehaving) must not hold the suite or the process.
      if (mod.measureAdapterOverhead) {
        ctx.progress(
          `latency: measuring provider adapter overhead (bench/providers.ts, at most ${ADAPTERS_TIMEOUT_MS / 1000} s)`,
        );
        let timer: NodeJS.Timeout | undefined;
        out.adapters = await Promise.race([
          mod.measureAdapterOverhead(),
          new Promise((r) => {
            timer = setTimeout(
              () => r({ error: `measureAdapterOverhead did not finish in ${ADAPTERS_TIMEOUT_MS / 1000} s` }),
              ADAPTERS_TIMEOUT_MS,
            );
          }),
        ]);
        clearTimeout(timer);
      }
    } catch (err) {
      out.adapters = { error: (err as Error).message };
    }
  return out;
}

export function table(r: Record<string, unknown>): string[][] {
  const row = (name: string, s: Stats | undefined, target: string): string[] => [
    name,
    String(s?.p50 ?? ''),
    String(s?.p95 ?? ''),
    String(s?.p99 ?? ''),
    target,
  ];
  const cuts = r.premature_cuts as { hesitation: number; two_sentences: number };
  return [
    [`metric (ms), profile ${r.profile}`, 'p50', 'p95', 'p99', 'target'],
    row('voice-to-voice (first audible)', r.voice_to_voice_ms as Stats, ''),
    row('barge-in: onset -> audio stops', r.barge_in_audio_stop_ms as Stats, 'p95 <= 150'),
    row('barge-in: onset -> clear', r.barge_in_ms as Stats, ''),
    row('endpointing', r.endpointing_ms as Stats, 'p50 <= 250'),
    row('engine overhead', r.overhead_ms as Stats, 'p99 <= 10'),
    [
      'greeting: first call / cached',
      String((r.greeting_ms as { first_call?: number } | undefined)?.first_call ?? ''),
      String((r.greeting_ms as { cached?: number[] } | undefined)?.cached?.join(' ') ?? ''),
      '',
      '<= 100',
    ],
    ['turns', String(r.turns), '', '', ''],
    [
      'premature cuts: hesitation / two sentences',
      `${cuts.hesitation}/${r.hesitation_turns}`,
      `${cuts.two_sentences}/${r.two_sentence_turns}`,
      '',
      '0',
    ],
    ['ignored turns', String(r.ignored_turns), '', '', '0'],
    [
      'acknowledgements that stopped the agent',
      `${r.acknowledgements_stopped_agent}/${r.acknowledgements}`,
      '',
      '',
      '0',
    ],
    ...((r.matrix as { rows: Record<string, unknown>[] } | undefined)?.rows ?? []).map((m) => [
      `voice-to-voice, tts ${m.tts}, preemptive ${m.preemptive_generation ? 'on' : 'off'}${m.tts_text_streams === undefined ? '' : ` (${m.tts_text_streams} streams, ${m.tts_clause_requests} requests)`}`,
      String(m.voice_to_voice_p50_ms),
      String(m.voice_to_voice_p95_ms),
      '',
      '',
    ]),
  ];
}

/**
 * Fast greeting (issue 6, deliverable 11): start message sent -> first greeting audio received, for the first call
 * of an assistant (TTS round trip) and the next ones (cached audio).
 */
async function greetingLatency(
  profile: ProviderProfile,
  dataDir: string,
): Promise<{ first_call: number; cached: number[] }> {
  const config: AssistantConfig = {
    firstMessage: 'Hello, thanks for calling Acme. How can I help you today?',
    settings: { recordAudio: false },
  };
  const providers = scriptedRegistry({
    asr: new ScriptedAsr({ script: [] }),
    llm: new ScriptedLlm({ firstTokenMs: profile.llmFirstTokenMs, respond: () => [{ text: SHORT_REPLY }] }),
    tts: new ScriptedTts({ firstByteMs: profile.ttsFirstByteMs, msPerChar: 60 }),
  });
  const engine = await startLocalEngine({
    assistant: {
      id: 'ag_bench_greeting',
      assistantApiKey: 'ast_g',
      tenantId: 'bench',
      config,
      version: 1,
      createdAt: '',
      updatedAt: '',
    },
    providers,
    logger: silentLogger,
    dataDir,
    deps: { createVad: energyVadFactory },
  });
  const times: number[] = [];
  for (let i = 0; i < 4; i++) {
    const sim = await PhoneSim.connect({ url: engine.url('twilio'), protocol: 'twilio' });
    const caller = new RealCaller(sim);
    await caller.silenceUntil(() => sim.firstAgentAudioAt >= 0, 3000);
    times.push(Math.round(sim.firstAgentAudioAt * 10) / 10);
    // Hear the greeting out: a greeting cut short by a hang-up is not cached.
    await caller.silenceUntil(() => !sim.agentPlaying && sim.nowMs() - sim.lastAgentAudioAt > 300, 8000);
    await sim.stop();
  }
  await engine.close();
  return { first_call: times[0]!, cached: times.slice(1) };
}
