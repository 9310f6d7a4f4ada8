/**
 * `voice-engine bench latency [--profile fast|realistic|slow] [--json] [--calls N] [--rounds N] [--no-adapters]`
 * (DESIGN.md section 7).
 *
 * Calls through the REAL WebSocket gateway (Twilio protocol, base64 mu-law, marks echoed after playout) into real
 * call sessions, spoken by a REAL human caller: the utterances of the real-speech fixtures (bench/callers.ts), with
 * in-process providers whose latency follows a profile (bench/profiles.ts; figures and sources in bench/README.md;
 * `realistic` by default: ASR first interim ~300 ms after speech onset and final ~150 ms after its end, LLM first
 * token ~400 ms, TTS first byte ~200 ms, each with +-25 % seeded jitter). The scripted ASR hears the caller's real
 * audio (energy segmentation) and returns the fixture's transcript of what is being said.
 *
 * Each round of a call: a question (agent silent; the answer is long), an acknowledgement ("Thank you." / "Okay.")
 * 1.5 s into that answer, a barge-in 1.5 s later, a hesitant turn (a number read with 600-800 ms pauses), a turn of
 * two sentences 260 ms apart. Measured on the caller's side of the socket, on one process clock:
 *  - voice_to_voice_ms: end of caller speech -> first AUDIBLE agent sample the caller hears (20 ms frames above
 *    -50 dBFS, on the playout timeline)
 *  - endpointing_ms: end of caller speech -> turn committed by the session (state `thinking`)
 *  - overhead_ms: voice-to-voice minus endpointing minus the providers' own LLM first token and TTS first byte of
 *    that turn (the session's turn metrics): what the engine adds
 *  - barge_in_ms: barge-in speech onset -> `clear` on the wire (contract); barge_in_audio_stop_ms: onset -> the
 *    agent's audio stops for the caller (400 ms of silence begins)
 *  - premature_cuts: hesitant / two-sentence turns committed (or answered) before their last part ended
 *  - ignored_turns: caller turns with no agent audio within 5 s of their end
 *  - acknowledgements_stopped_agent: acknowledgements after which the agent was silent for 1.5 s (stopped for good)
 * Assistant settings are the defaults. VAD: the energy detector (deterministic, like the scripted providers).
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

const ADAPTERS_TIMEOUT_MS = 60_000;
/** A turn with no agent audio this long after its end is ignored. */
const IGNORED_AFTER_MS = 5000;
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
  /** What is being said now (the scripted ASR reads it at segment onset and end). */
  saying: AsrUtterance | undefined;
  constructor(readonly sim: PhoneSim) {}

  /**
   * Speaks `u` in real time. Returns the send times (performance.now()) of its speech onset, of the end of each
   * part, and of its last frame.
   */
  async say(u: RealUtterance, onFrame?: (atMs: number) => void): Promise<{ onset: number; partEnds: number[] }> {
    let onset = 0;
    const partEnds: number[] = [];
    const frames = u.mulaw.length / 160;
    let part = 0;
    for (let i = 0; i < frames; i++) {
      if (this.sim.closed) break;
      const t = i * 20;
      const p = u.parts[part];
      if (p && t + 20 > p.startMs && t < p.endMs) {
        this.saying = { text: p.text, partial: p.text.split(/\s+/).slice(0, 2).join(' ') };
        // A frame is sent when its audio is complete: speech that starts inside it began (end - 20 + offset).
        if (part === 0 && !onset) onset = performance.now() + (p.startMs - t);
      }
      this.sim.sendFrame(u.mulaw.subarray(i * 160, (i + 1) * 160));
      onFrame?.(t);
      if (p && t + 20 >= p.endMs) {
        partEnds.push(performance.now() - (t + 20 - p.endMs));
        part++;
      }
      this.clock += 20;
      await sleepUntil(this.clock);
    }
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
  /** performance.now() of the end of the turn's speech. */
  endAt: number;
  commitAt?: number;
  cut?: boolean;
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
      saying: () => c?.saying,
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

  /** A caller turn while the agent is silent: returns when it is answered (or not). */
  const turn = async (u: RealUtterance): Promise<void> => {
    const before = commits().length;
    const { partEnds } = await caller.say(u);
    const end = partEnds.at(-1) ?? performance.now();
    const sample: TurnSample = { kind: u.kind, from: u.from, endAt: end };
    // Committed before the last part ended: the turn was cut in a pause.
    const early = commits()
      .slice(before)
      .find((c) => c < end - 20);
    if (u.parts.length > 1) sample.cut = early !== undefined;
    // Endpointing of the turn: the commit that follows the end of its speech (a premature one is counted apart).
    const after = (): number | undefined => commits().find((c) => c >= end - 20);
    const committed = await caller.silenceUntil(() => after() !== undefined, 6000);
    if (committed) sample.commitAt = after();
    turns.push(sample);
    await caller.silenceUntil(() => sim.lastAgentAudioAt + sim.t0 > end, IGNORED_AFTER_MS);
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
    turns.push({ kind: 'barge-in', from: barge.from, endAt: b.partEnds.at(-1) ?? performance.now() });
    const bargeCommitted = await caller.silenceUntil(() => commits().length > beforeBarge, 6000);
    if (bargeCommitted) turns.at(-1)!.commitAt = commits()[beforeBarge]!;
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
    if (t.cut) {
      if (t.kind === 'hesitation') res.prematureCuts.hesitation++;
      else res.prematureCuts.twoSentences++;
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
    const providers = m ? Number(m.llmFirstTokenMs ?? 0) + Number(m.ttsFirstByteMs ?? 0) : undefined;
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

export async function run(ctx: BenchContext): Promise<Record<string, unknown> & { suite: string }> {
  const calls = flagNumber(ctx.args, 'calls', 2);
  const rounds = flagNumber(ctx.args, 'rounds', 3);
  const profileName = flagString(ctx.args, 'profile') ?? 'realistic';
  const profile = profileNamed(profileName);
  if (!profile) throw new CliError(`--profile ${profileName}: one of ${Object.keys(PROFILES).join(', ')}`, EXIT.usage);
  const speech = await loadRealSpeech();
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
  const tts = new ScriptedTts({ firstByteMs: profile.ttsFirstByteMs, msPerChar: 60, jitter: jitterOf(profile, 13) });
  const base = scriptedRegistry({ asr: asrs.next(), llm, tts });
  const config: AssistantConfig = { settings: { recordAudio: false, silenceTimeoutMs: 60_000 } };
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
    providers: { ...base, asr: () => asrs.next() },
    logger: silentLogger,
    dataDir,
    deps: { createVad: energyVadFactory },
  });
  const greeting = await greetingLatency(profile, dataDir);
  ctx.progress(
    `latency: profile ${profile.name}, ${calls} concurrent calls x ${rounds} rounds (5 real-speech turns each) over ws://127.0.0.1:${engine.port}/media/twilio`,
  );
  const results: CallResult[] = [];
  // Calls start one at a time (each call's ASR is handed out in start order), then run concurrently.
  const running: Promise<CallResult>[] = [];
  for (let i = 0; i < calls; i++) {
    running.push(oneCall(engine, i, rounds, speech, asrs));
    const t = performance.now();
    while (engine.calls.length <= i && performance.now() - t < 3000) await new Promise((r) => setTimeout(r, 5));
  }
  results.push(...(await Promise.all(running)));
  await engine.close();
  rmSync(dataDir, { recursive: true, force: true });

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
    hesitation_turns: sum((r) => r.hesitationTurns),
    two_sentence_turns: sum((r) => r.twoSentenceTurns),
    ignored_turns: sum((r) => r.ignoredTurns),
    acknowledgements: sum((r) => r.acknowledgements),
    acknowledgements_stopped_agent: sum((r) => r.ackStoppedAgent),
    missed: sum((r) => r.missed),
    greeting_ms: greeting,
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
    settings: { endpointing: 'assistant defaults', vad: 'energy' },
    targets: { barge_in_audio_stop_p95_ms: 150, endpointing_p50_ms: 250, premature_cuts: 0, ignored_turns: 0 },
  };
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
