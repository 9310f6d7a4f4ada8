/**
 * `voice-engine bench latency [--json] [--calls N] [--turns N] [--no-adapters]` (DESIGN.md section 7).
 *
 * Scripted calls through the REAL WebSocket gateway (Twilio protocol, base64 mu-law, marks echoed after playout)
 * into real call sessions, with in-process providers of fixed, known latency (bench/scripted.ts):
 *   ASR final 100 ms after the end of speech (partial 80 ms after its start), LLM first token 200 ms (then the
 *   whole reply at once), TTS first byte 80 ms.
 * Measured from the caller's side of the socket, on the one process clock:
 *  - endpointing_ms: end of caller speech (last voiced frame sent) -> turn committed by the session
 *  - overhead_ms: voice-to-voice (end of speech -> first agent audio received) minus endpointing minus the
 *    providers' fixed latencies (LLM 200 + TTS 80): what the engine adds (turn hand-off, RAG/tools lookup,
 *    splitter, pacing, socket)
 *  - barge_in_ms: onset of caller speech over the agent -> `clear` received
 * Assistant settings are the defaults (endpointing 250..1500 ms) except bargeInMinSpeechMs 100 (the default 200
 * is an anti-false-barge-in setting, not a latency floor). VAD: the energy detector (deterministic on the
 * scripted noise "speech"; the WebRTC VAD is for real voices). Every third turn of a call is a mid-sentence
 * hesitation ("my number is" ... 700 ms ... digits): committing it before the digits counts as a premature cut.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AssistantConfig } from '../src/assistant.js';
import { linearToMulaw } from '../src/audio/g711.js';
import { type LocalEngine, startLocalEngine } from '../src/call/local-engine.js';
import { PhoneSim } from '../src/call/phone-sim.js';
import { energyVadFactory } from '../src/call/vad.js';
import { flagNumber } from '../src/cli/args.js';
import type { BenchContext } from '../src/cli/bench.js';
import { silentLogger } from '../src/log.js';
import { lastUser, ScriptedAsr, ScriptedLlm, ScriptedTts, scriptedRegistry } from './scripted.js';

const ASR_FINAL_MS = 100;
const ASR_PARTIAL_MS = 80;
const LLM_FIRST_TOKEN_MS = 200;
const TTS_FIRST_BYTE_MS = 80;
const ADAPTERS_TIMEOUT_MS = 60_000;

const SENTENCES = [
  'what time do you open tomorrow',
  'I would like to book a table for two',
  'can you tell me where the nearest store is',
  'I need to change my delivery address',
  'how much does the premium plan cost',
  'please send me the invoice by email',
];
const LONG_REPLY =
  'Of course. We have three plans to choose from, and each one comes with a free trial month. The basic plan covers one line, the family plan covers four lines, and the business plan adds priority support.';

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

let seed = 99;
function noiseFrame(out: Uint8Array, loud: boolean): void {
  for (let i = 0; i < out.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    out[i] = loud ? linearToMulaw(Math.round(((seed / 0x7fffffff) * 2 - 1) * 5000)) : 0xff;
  }
}

/** The caller's side of one call: sends paced frames, records send times of the last voiced frame / onsets. */
class Caller {
  private clock = performance.now();
  private readonly frame = new Uint8Array(160);
  lastVoicedAt = 0;
  onsetAt = 0;
  constructor(readonly sim: PhoneSim) {}
  async audio(kind: 'speech' | 'silence', ms: number): Promise<void> {
    for (let i = 0; i < ms / 20; i++) {
      if (this.sim.closed) return;
      noiseFrame(this.frame, kind === 'speech');
      // The frame sent now carries the last 20 ms of audio: its speech began 20 ms ago.
      if (kind === 'speech' && i === 0) this.onsetAt = performance.now() - 20;
      this.sim.sendFrame(this.frame);
      if (kind === 'speech') this.lastVoicedAt = performance.now();
      this.clock += 20;
      await sleepUntil(this.clock);
    }
  }
  /** Silence until `cond` holds (or `maxMs`). */
  async silenceUntil(cond: () => boolean, maxMs: number): Promise<boolean> {
    const end = performance.now() + maxMs;
    while (!cond()) {
      if (performance.now() > end || this.sim.closed) return false;
      await this.audio('silence', 20);
    }
    return true;
  }
}

interface CallResult {
  endpointing: number[];
  overhead: number[];
  bargeIn: number[];
  hesitationTurns: number;
  prematureCuts: number;
  missed: number;
  /** Per turn: kind, endpointing, overhead, the committed text. */
  detail: { kind: string; endpointing: number; overhead: number; text: string }[];
}

async function oneCall(engine: LocalEngine, index: number, turns: number): Promise<CallResult> {
  const res: CallResult = {
    endpointing: [],
    overhead: [],
    bargeIn: [],
    hesitationTurns: 0,
    prematureCuts: 0,
    missed: 0,
    detail: [],
  };
  const sim = await PhoneSim.connect({ url: engine.url('twilio'), protocol: 'twilio', callId: `CAbench${index}` });
  const caller = new Caller(sim);
  let lastAgentAudioAbs = 0;
  const agentArrivals: number[] = [];
  sim.onAgentAudio = (atMs) => {
    lastAgentAudioAbs = sim.t0 + atMs;
    agentArrivals.push(lastAgentAudioAbs);
  };
  let clears: number[] = [];
  sim.onEvent = (e) => {
    if (e.type === 'clear') clears.push(sim.t0 + e.at);
  };
  await caller.silenceUntil(() => engine.calls.length > index, 2000);
  const call = engine.calls[index]!;
  const commits = (): number[] =>
    call.events.filter((e) => e.type === 'state' && e.data.state === 'thinking').map((e) => e.at);
  const agentQuiet = (): boolean => !sim.agentPlaying && performance.now() - lastAgentAudioAbs > 200;

  for (let t = 0; t < turns && !sim.closed; t++) {
    const kind = t % 3 === 2 ? 'hesitation' : t % 3 === 1 ? 'barge' : 'plain';
    const before = commits().length;
    if (kind === 'hesitation') {
      res.hesitationTurns++;
      await caller.audio('speech', 500);
      await caller.audio('silence', 700);
      if (commits().length > before) res.prematureCuts++;
      await caller.audio('speech', 600);
    } else {
      await caller.audio('speech', 600);
    }
    // A 20 ms frame is sent when its audio is complete: the speech ends at the send time of the last voiced frame.
    const speechEnd = caller.lastVoicedAt;
    const committed = await caller.silenceUntil(() => commits().length > before, 4000);
    const commitAt = committed ? commits()[before]! : 0;
    const firstAfter = (): number | undefined => agentArrivals.find((a) => a > commitAt);
    const gotAudio = committed && (await caller.silenceUntil(() => firstAfter() !== undefined, 4000));
    if (!committed || !gotAudio) {
      res.missed++;
      continue;
    }
    const firstAudio = firstAfter()!;
    const endpointing = commitAt - speechEnd;
    const overhead = firstAudio - speechEnd - endpointing - LLM_FIRST_TOKEN_MS - TTS_FIRST_BYTE_MS;
    res.endpointing.push(endpointing);
    res.overhead.push(overhead);
    const text = String(
      call.events.filter((e) => e.type === 'transcript' && e.data.role === 'user').at(-1)?.data.text ?? '',
    );
    res.detail.push({ kind, endpointing: Math.round(endpointing), overhead: Math.round(overhead * 10) / 10, text });
    if (kind === 'barge') {
      // Talk over the long answer 500 ms into it.
      await caller.audio('silence', 500);
      clears = [];
      const beforeBarge = commits().length;
      await caller.audio('speech', 400);
      const onset = caller.onsetAt;
      await caller.silenceUntil(() => clears.length > 0, 2000);
      if (clears.length) res.bargeIn.push(clears[0]! - onset);
      else res.missed++;
      // Let the interruption's own turn play out.
      await caller.silenceUntil(() => commits().length > beforeBarge, 4000);
    }
    await caller.silenceUntil(agentQuiet, 15_000);
    await caller.audio('silence', 200);
  }
  await sim.stop();
  return res;
}

export async function run(ctx: BenchContext): Promise<Record<string, unknown> & { suite: string }> {
  const calls = flagNumber(ctx.args, 'calls', 2);
  const turnsPerCall = flagNumber(ctx.args, 'turns', 12);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 've-bench-latency-'));
  // One provider set serves every call, so the recognizer's text follows the caller's rhythm, not a script order:
  // 400 ms = an interruption, 500 ms = the first half of a hesitation, longer = a complete sentence.
  let n = 0;
  const asr = new ScriptedAsr({
    script: [],
    finalLatencyMs: ASR_FINAL_MS,
    partialAfterMs: ASR_PARTIAL_MS,
    partialText: 'hold on',
    textFor: (ms) =>
      ms < 450 ? 'wait a moment please' : ms < 550 ? 'my number is' : SENTENCES[n++ % SENTENCES.length]!,
  });
  const llm = new ScriptedLlm({
    firstTokenMs: LLM_FIRST_TOKEN_MS,
    tokenIntervalMs: 0,
    respond: (m) =>
      lastUser(m).includes('wait a moment') ? [{ text: 'Sure, take your time.' }] : [{ text: LONG_REPLY }],
  });
  const tts = new ScriptedTts({ firstByteMs: TTS_FIRST_BYTE_MS, msPerChar: 6 });
  const config: AssistantConfig = {
    settings: { bargeInMinSpeechMs: 100, recordAudio: false, silenceTimeoutMs: 60_000 },
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
    providers: scriptedRegistry({ asr, llm, tts }),
    logger: silentLogger,
    dataDir,
    deps: { createVad: energyVadFactory },
  });
  const greeting = await greetingLatency(asr, llm, tts, dataDir);
  ctx.progress(
    `latency: ${calls} concurrent calls x ${turnsPerCall} turns over ws://127.0.0.1:${engine.port}/media/twilio`,
  );
  const results = await Promise.all(Array.from({ length: calls }, (_, i) => oneCall(engine, i, turnsPerCall)));
  await engine.close();
  rmSync(dataDir, { recursive: true, force: true });

  const all = (k: 'endpointing' | 'overhead' | 'bargeIn'): number[] => results.flatMap((r) => r[k]);
  const out: Record<string, unknown> & { suite: string } = {
    suite: 'latency',
    turns: all('endpointing').length,
    overhead_ms: pct(all('overhead')),
    endpointing_ms: pct(all('endpointing')),
    barge_in_ms: pct(all('bargeIn')),
    barge_ins: all('bargeIn').length,
    greeting_ms: greeting,
    hesitation_turns: results.reduce((s, r) => s + r.hesitationTurns, 0),
    premature_cuts: results.reduce((s, r) => s + r.prematureCuts, 0),
    missed: results.reduce((s, r) => s + r.missed, 0),
    per_turn: results.flatMap((r) => r.detail),
    calls,
    providers_ms: {
      asr_final: ASR_FINAL_MS,
      asr_partial: ASR_PARTIAL_MS,
      llm_first_token: LLM_FIRST_TOKEN_MS,
      tts_first_byte: TTS_FIRST_BYTE_MS,
    },
    settings: { endpointing: { minDelayMs: 250, maxDelayMs: 1500 }, bargeInMinSpeechMs: 100, vad: 'energy' },
    targets: { overhead_p99_ms: 10, barge_in_p95_ms: 150, endpointing_p50_ms: 400, greeting_ms: 100 },
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
  return [
    ['metric (ms)', 'p50', 'p95', 'p99', 'target'],
    row('engine overhead', r.overhead_ms as Stats, 'p99 <= 10'),
    row('endpointing', r.endpointing_ms as Stats, 'p50 <= 400'),
    row('barge-in -> clear', r.barge_in_ms as Stats, 'p95 <= 150'),
    [
      'greeting: first call / cached',
      String((r.greeting_ms as { first_call?: number } | undefined)?.first_call ?? ''),
      String((r.greeting_ms as { cached?: number[] } | undefined)?.cached?.join(' ') ?? ''),
      '',
      '<= 100',
    ],
    ['turns', String(r.turns), '', '', ''],
    ['hesitations / premature cuts', `${r.hesitation_turns} / ${r.premature_cuts}`, '', '', '0 cuts'],
  ];
}

/**
 * Fast greeting (issue 6, deliverable 11): start message sent -> first greeting audio received, for the first call
 * of an assistant (TTS round trip, 80 ms here) and the next ones (cached audio).
 */
async function greetingLatency(
  asr: ScriptedAsr,
  llm: ScriptedLlm,
  tts: ScriptedTts,
  dataDir: string,
): Promise<{ first_call: number; cached: number[] }> {
  const config: AssistantConfig = {
    firstMessage: 'Hello, thanks for calling Acme. How can I help you today?',
    settings: { recordAudio: false },
  };
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
    providers: scriptedRegistry({ asr, llm, tts }),
    logger: silentLogger,
    dataDir,
    deps: { createVad: energyVadFactory },
  });
  const times: number[] = [];
  for (let i = 0; i < 6; i++) {
    const sim = await PhoneSim.connect({ url: engine.url('twilio'), protocol: 'twilio' });
    const caller = new Caller(sim);
    await caller.silenceUntil(() => sim.firstAgentAudioAt >= 0, 3000);
    times.push(Math.round(sim.firstAgentAudioAt * 10) / 10);
    // Hear the greeting out: a greeting cut short by a hang-up is not cached.
    await caller.silenceUntil(() => !sim.agentPlaying && sim.nowMs() - sim.lastAgentAudioAt > 300, 5000);
    await sim.stop();
  }
  await engine.close();
  return { first_call: times[0]!, cached: times.slice(1) };
}
