/**
 * `voice-engine replay <file.wav|file.jsonl> [--protocol twilio|native] [--url ws://...] [--assistant KEY] [--fast]
 *  [--out agent.wav] [--json] [--scenario fixtures/calls/x.json]` (DESIGN.md section 3).
 *
 * Streams a caller recording over a REAL WebSocket exactly as the telephony platform would (20 ms frames, real-time
 * pacing, DTMF heard in the recording sent as the protocol's DTMF events, marks echoed after playout, clear
 * honoured), against `--url` or an in-process engine. With a scenario (the fixture's sibling .json, or --scenario)
 * the in-process engine uses its assistant and the run is checked against its `expect` block: exit 1 and a list of
 * what failed. A wire recording (.jsonl, settings.recordWire) is replayed message by message with its timing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Assistant, AssistantConfig } from '../assistant.js';
import { DtmfDetector } from '../audio/dtmf.js';
import { encodeWav } from '../audio/wav.js';
import type { ProviderRegistryLike } from '../call/deps.js';
import { type LocalEngine, startLocalEngine } from '../call/local-engine.js';
import { PhoneSim, type SimProtocol } from '../call/phone-sim.js';
import { loadConfig } from '../config.js';
import { createLogger, silentLogger } from '../log.js';
import { createProviderRegistry } from '../providers/registry.js';
import { CloseCode } from '../telephony/close-codes.js';
import { CliError, EXIT, flagString, parseArgs } from './args.js';
import { audibleFrames, checkExpectations, type HeardAudio, type ReplayOutcome } from './replay-check.js';
import { checkUrl, exists, loadCallerAudio, loadScenarioFile, loadWire, type ScenarioLike } from './replay-input.js';

const FRAME = 160; // 20 ms at 8 kHz
/** After the recording ends: keep the line open (silence) until the agent has been quiet this long, ms. */
const TAIL_QUIET_MS = 2500;
/** ...but never longer than this after the recording, ms. */
const TAIL_MAX_MS = 30_000;
/** Frame energy (dBFS) above which the caller counts as speaking (for client-side latency and --fast). */
const SPEECH_DB = -38;
/**
 * --fast sends the caller's idle stretches at this multiple of real time: 150 messages per second, under the
 * gateway's flood limit (200 per second, DEFAULT_LIMITS.maxMessagesPerSecond) with room for marks and DTMF.
 */
const FAST_X = 3;
/**
 * Close codes that mean the engine refused or broke the stream: every 4xxx of the media endpoints' table
 * (src/telephony/close-codes.ts) but 4000, the normal end of a call; and 1008 (policy), 1009 (too big), 1011 (error).
 */
const refused = (code: number): boolean =>
  (code > CloseCode.NORMAL && code < 5000) || code === 1008 || code === 1009 || code === 1011;

function frameDb(pcm: Int16Array, off: number): number {
  let sum = 0;
  const end = Math.min(pcm.length, off + FRAME);
  for (let i = off; i < end; i++) sum += pcm[i]! * pcm[i]!;
  const rms = Math.sqrt(sum / Math.max(1, end - off)) / 32768;
  return rms > 0 ? 20 * Math.log10(rms) : -120;
}

const sleepUntil = async (t: number): Promise<void> => {
  const wait = t - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
};

/** The engine to call: the one place that would swap to src/engine.ts createEngine() for tenant-aware replays. */
async function inProcessEngine(
  config: AssistantConfig,
  dataDir: string,
  json: boolean,
  providersFor: ReplayOptions['providers'],
  scenario: ScenarioLike | undefined,
): Promise<LocalEngine> {
  const logger = process.env.LOG_LEVEL ? createLogger(process.env.LOG_LEVEL) : silentLogger;
  const registry: ProviderRegistryLike = createProviderRegistry(loadConfig(), json ? silentLogger : logger);
  const providers = providersFor ? providersFor(registry, scenario) : registry;
  const now = new Date().toISOString();
  const assistant: Assistant = {
    id: 'ag_replay',
    assistantApiKey: 'ast_replay',
    tenantId: 'replay',
    config,
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
  return startLocalEngine({
    assistant,
    providers,
    logger,
    dataDir,
    // Replay plays the platform: a REST transfer (Twilio call update) is accepted as the platform would; a hangup
    // is the socket's close.
    control: () => ({ hangup: async () => 'unsupported', transfer: async () => 'done', sendDtmf: () => 'unsupported' }),
  });
}

export async function run(argv: string[]): Promise<number> {
  const r = await replay(argv, (line) => process.stdout.write(`${line}\n`));
  return r.code;
}

export interface ReplayResult {
  code: number;
  /** The --json report object (also built without --json). */
  report: Record<string, unknown>;
}

export interface ReplayOptions {
  /**
   * The in-process engine's providers, from the configured registry and the scenario (tests replay fixtures on
   * scripted providers this way); default: the registry.
   */
  providers?: (registry: ProviderRegistryLike, scenario: ScenarioLike | undefined) => ProviderRegistryLike;
}

/** The command without the process: `print` gets each output line (one JSON line with --json). */
export async function replay(
  argv: string[],
  print: (line: string) => void,
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const args = parseArgs(argv, ['json', 'fast']);
  const file = args.positional[0];
  if (!file) throw new CliError('replay needs a file: voice-engine replay <file.wav|file.jsonl>', EXIT.usage);
  const json = args.flags.json === true;
  const fast = args.flags.fast === true;
  const url = flagString(args, 'url');
  const key = flagString(args, 'assistant');
  const out = flagString(args, 'out');
  if (out && !(await exists(path.dirname(path.resolve(out)))))
    throw new CliError(`--out ${out}: no such directory`, EXIT.io);

  const isWire = file.endsWith('.jsonl');
  const protocolFlag = flagString(args, 'protocol');
  if (url) checkUrl(url);
  if (!isWire && protocolFlag && protocolFlag !== 'twilio' && protocolFlag !== 'native') {
    throw new CliError(
      `--protocol ${protocolFlag}: an audio replay speaks twilio or native (a .jsonl wire recording replays any protocol)`,
      EXIT.usage,
    );
  }
  // Every input is read and checked before anything starts: a bad one exits at once, with one message.
  const wire = isWire ? await loadWire(file) : undefined;
  const audio = isWire ? undefined : await loadCallerAudio(file);
  const protocol = protocolFlag ?? wire?.protocol ?? 'twilio';
  let scenarioPath = flagString(args, 'scenario');
  if (!scenarioPath && !isWire) {
    const sibling = file.replace(/\.[a-z0-9]+$/i, '.json');
    if (sibling !== file && (await exists(sibling))) scenarioPath = sibling;
  }
  const scenario = scenarioPath ? await loadScenarioFile(scenarioPath) : undefined;

  let engine: LocalEngine | undefined;
  let tmpDir: string | undefined;
  let sim: PhoneSim | undefined;
  try {
    let target = url;
    if (!target) {
      tmpDir = process.env.DATA_DIR ? undefined : mkdtempSync(path.join(os.tmpdir(), 've-replay-'));
      // A wire recording replays with the assistant recorded with it, unless a scenario says otherwise.
      engine = await inProcessEngine(
        scenario?.assistant ?? wire?.assistant ?? {},
        process.env.DATA_DIR ?? tmpDir!,
        json,
        options.providers,
        scenario,
      );
      target = engine.url(protocol);
    } else if (key) {
      target = `${target.replace(/\/$/, '')}/${encodeURIComponent(key)}`;
    }
    try {
      sim = await PhoneSim.connect({
        url: target,
        protocol: (protocol === 'native' ? 'native' : 'twilio') as SimProtocol,
        raw: isWire,
        from: '+15550001000',
        to: '+15550002000',
        // The AMD fixtures are the callee side of outbound calls: the stream opts in to voicemail detection.
        customParameters: {
          ...(key ? { assistantApiKey: key } : {}),
          ...(scenario?.assistant.settings?.voicemail ? { amd: 'true' } : {}),
        },
      });
    } catch (err) {
      throw new CliError(`cannot connect to ${target}: ${(err as Error).message}`, EXIT.connection);
    }
    return await run2({
      args,
      file,
      print,
      json,
      fast,
      url,
      target,
      protocol,
      scenarioPath,
      scenario,
      wire,
      audio,
      engine,
      sim,
      out,
    });
  } finally {
    if (sim && !sim.closed) await sim.stop().catch(() => undefined);
    await engine?.close();
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  }
}

interface RunState {
  args: ReturnType<typeof parseArgs>;
  file: string;
  print: (line: string) => void;
  json: boolean;
  fast: boolean;
  url?: string;
  target: string;
  protocol: string;
  scenarioPath?: string;
  scenario?: Awaited<ReturnType<typeof loadScenarioFile>>;
  wire?: Awaited<ReturnType<typeof loadWire>>;
  audio?: Awaited<ReturnType<typeof loadCallerAudio>>;
  engine?: LocalEngine;
  sim: PhoneSim;
  out?: string;
}

/** The call itself, once every input is loaded and the stream is open. */
async function run2(st: RunState): Promise<ReplayResult> {
  const { file, print, json, fast, url, target, protocol, scenarioPath, scenario, wire, engine, sim, out } = st;
  const log = (line: string): void => {
    if (!json) print(line);
  };
  const started = performance.now();
  if (!json) {
    log(
      `replay ${file} over ${protocol} to ${url ? target : 'an in-process engine'}${fast ? ' (fast)' : ''}${scenarioPath ? `, scenario ${scenarioPath}` : ''}`,
    );
  }

  const speechEnds: number[] = [];
  let audioMs = 0;
  /** Call-timeline ms at which each 20 ms frame of the recording went out. */
  let sentAt: Float64Array | undefined;
  if (wire) {
    // --fast: the recording's own timing divided by FAST_X (within the engine's flood limit).
    for (const m of wire.messages) {
      if (sim.closed) break;
      await sleepUntil(started + (fast ? m.t / FAST_X : m.t));
      sim.sendRaw(m.text ?? Buffer.from(m.bin!, 'base64'));
      audioMs = m.t;
    }
  } else {
    const { mulaw, pcm, durationMs } = st.audio!;
    audioMs = durationMs;
    const dtmf = new DtmfDetector({ onDigit: (e) => sim.sendDtmf(e.digit) });
    let speaking = false;
    let lastSpeechAt = -1e9;
    let clock = performance.now();
    const frames = mulaw.length / FRAME;
    sentAt = new Float64Array(frames);
    for (let i = 0; i < frames; i++) {
      if (sim.closed) {
        // The rest of the recording never went out: it maps past the end of the call.
        sentAt.fill(sim.nowMs() + 60_000, i);
        break;
      }
      const off = i * FRAME;
      const loud = frameDb(pcm, off) >= SPEECH_DB;
      const t = sim.nowMs();
      sentAt[i] = t;
      if (loud) {
        speaking = true;
        lastSpeechAt = t;
      } else if (speaking && t - lastSpeechAt > 200) {
        speaking = false;
        speechEnds.push(lastSpeechAt + 20);
      }
      sim.sendFrame(mulaw.subarray(off, off + FRAME));
      dtmf.push(pcm.subarray(off, Math.min(pcm.length, off + FRAME)));
      // --fast skips through the caller's silence while nothing is pending (agent quiet, no reply expected);
      // everything else runs in real time, so turn-taking is the same as in a real call.
      const idle =
        !loud && !sim.agentPlaying && t - lastSpeechAt > TAIL_QUIET_MS && t - sim.lastAgentAudioAt > TAIL_QUIET_MS;
      clock += fast && idle ? 20 / FAST_X : 20;
      await sleepUntil(clock);
    }
    dtmf.flush();
    // Keep the line open with silence until the agent is done (or the engine hangs up).
    const silence = new Uint8Array(FRAME).fill(0xff);
    const tailStart = performance.now();
    clock = performance.now();
    while (!sim.closed && performance.now() - tailStart < TAIL_MAX_MS) {
      const t = sim.nowMs();
      const quiet = !sim.agentPlaying && t - Math.max(sim.lastAgentAudioAt, lastSpeechAt) > TAIL_QUIET_MS;
      const waitingForSilenceHangup = scenario?.expect.hangup === 'silence';
      if (quiet && !waitingForSilenceHangup) break;
      sim.sendFrame(silence);
      clock += 20;
      await sleepUntil(clock);
    }
  }
  const hungUpByEngine = sim.closed;
  if (!sim.closed) await sim.stop();
  // A stream the engine refused (bad key or signature, no assistant: 4xxx) or broke is a failed replay.
  const closedEv = sim.events.find((e) => e.type === 'closed');
  if (hungUpByEngine && closedEv?.type === 'closed' && refused(closedEv.code)) {
    throw new CliError(
      `the engine closed the stream: ${closedEv.code}${closedEv.reason ? ` ${closedEv.reason}` : ''}`,
      EXIT.connection,
    );
  }
  let call: Awaited<ReturnType<LocalEngine['nextEnded']>> | undefined;
  if (engine) {
    let timer: NodeJS.Timeout | undefined;
    call = await Promise.race([
      engine.nextEnded(),
      new Promise<undefined>((r) => {
        timer = setTimeout(() => r(undefined), 60_000);
      }),
    ]);
    clearTimeout(timer);
  }
  const totalMs = sim.nowMs();

  const outcome: ReplayOutcome = buildOutcome(sim, call, speechEnds, hungUpByEngine);
  if (sentAt) outcome.heard = heardAudio(sim, Math.max(totalMs, audioMs), sentAt);
  const check = scenario ? checkExpectations(scenario.expect, outcome, scenario.events) : undefined;

  let outPath: string | undefined;
  if (out) {
    const track = sim.agentTrack(Math.max(totalMs, audioMs));
    await writeFile(out, encodeWav(track, sim.sampleRate)).catch((err: Error) => {
      throw new CliError(`cannot write ${out}: ${err.message}`, EXIT.io);
    });
    outPath = out;
  }

  const report = {
    file,
    protocol,
    engine: url ? target : 'in-process',
    scenario: scenarioPath,
    durationMs: Math.round(totalMs),
    endedBy: outcome.endedBy,
    endReason: outcome.endReason,
    turns: outcome.turns,
    bargeIns: outcome.bargeIns,
    clears: sim.events.filter((e) => e.type === 'clear').length,
    digits: outcome.digits,
    tools: outcome.tools,
    transcript: outcome.transcript,
    latency: outcome.latency,
    expectations: check,
    out: outPath,
  };
  if (json) print(JSON.stringify(report));
  else {
    for (const line of outcome.transcript) {
      const lat = line.latency ? `   (${line.latency})` : '';
      log(
        `  [${(line.atMs / 1000).toFixed(1).padStart(5)}s] ${line.role === 'user' ? 'caller' : 'agent '}: ${line.text}${line.interrupted ? ' [cut off]' : ''}${lat}`,
      );
    }
    log(
      `ended by ${outcome.endedBy}${outcome.endReason ? ` (${outcome.endReason})` : ''} after ${(totalMs / 1000).toFixed(1)} s; turns ${outcome.turns ?? '?'}, barge-ins ${outcome.bargeIns ?? '?'}, clears ${report.clears}`,
    );
    if (outcome.latency.voiceToVoiceMs.length) {
      log(`voice-to-voice ms: ${outcome.latency.voiceToVoiceMs.map((v) => Math.round(v)).join(', ')}`);
    }
    if (outPath) log(`agent audio written to ${outPath}`);
    if (check)
      log(
        check.ok
          ? `expectations met (${check.checked.join(', ')})`
          : `EXPECTATIONS FAILED:\n  - ${check.failures.join('\n  - ')}`,
      );
  }
  return { code: check && !check.ok ? 1 : 0, report };
}

function heardAudio(sim: PhoneSim, totalMs: number, sentAt: Float64Array): HeardAudio {
  return {
    audible: audibleFrames(sim.agentTrack(totalMs), FRAME),
    callMs: (fileMs) => {
      const i = Math.min(sentAt.length - 1, Math.max(0, Math.floor(fileMs / 20)));
      return sentAt[i]! + (fileMs - i * 20);
    },
  };
}

function buildOutcome(
  sim: PhoneSim,
  call: Awaited<ReturnType<LocalEngine['nextEnded']>> | undefined,
  speechEnds: number[],
  hungUpByEngine: boolean,
): ReplayOutcome {
  // Client-side voice-to-voice: end of each caller speech run -> first agent audio after it (what a caller hears).
  const clientV2V: number[] = [];
  const starts = sim.agent.map((p) => p.startMs);
  for (const end of speechEnds) {
    const next = starts.find((s) => s > end);
    if (next !== undefined && next - end < 10_000) clientV2V.push(next - end);
  }
  if (call?.summary) {
    const s = call.summary;
    const metrics = new Map<number, Record<string, unknown>>();
    for (const e of call.events) if (e.type === 'turn') metrics.set(Number(e.data.turn), e.data);
    const seenTurns = new Set<number>();
    const transcript = s.transcript.map((t) => {
      let latency: string | undefined;
      if (t.role === 'user' && !seenTurns.has(t.turn)) {
        seenTurns.add(t.turn);
        const m = metrics.get(t.turn);
        if (m) {
          const parts = [
            m.endpointingMs !== undefined ? `endpointing ${Math.round(Number(m.endpointingMs))} ms` : '',
            m.llmFirstTokenMs !== undefined ? `llm ${Math.round(Number(m.llmFirstTokenMs))} ms` : '',
            m.ttsFirstByteMs !== undefined ? `tts ${Math.round(Number(m.ttsFirstByteMs))} ms` : '',
            m.voiceToVoiceMs !== undefined ? `voice-to-voice ${Math.round(Number(m.voiceToVoiceMs))} ms` : '',
          ].filter(Boolean);
          latency = parts.join(', ');
        }
      }
      return { role: t.role, text: t.text, turn: t.turn, atMs: t.atMs, interrupted: t.interrupted, latency };
    });
    const record = call.record as Record<string, unknown>;
    const answeredBy = record.answeredBy ?? record.answered_by;
    return {
      answeredBy: typeof answeredBy === 'string' ? answeredBy : undefined,
      endedBy: s.endedBy,
      endReason: s.endReason,
      turns: s.turns,
      bargeIns: s.bargeIns,
      digits: s.digits,
      tools: s.toolCalls.map((c) => c.name),
      transcript,
      agentText: s.transcript.filter((t) => t.role === 'assistant').map((t) => t.text),
      latency: {
        voiceToVoiceMs: [...metrics.values()].map((m) => Number(m.voiceToVoiceMs)).filter((v) => Number.isFinite(v)),
        endpointingMs: [...metrics.values()].map((m) => Number(m.endpointingMs)).filter((v) => Number.isFinite(v)),
        clientVoiceToVoiceMs: clientV2V,
      },
    };
  }
  // Remote engine: only what the wire shows (native sends transcripts and metrics; Twilio only audio and marks).
  const transcript = sim.events
    .filter((e): e is Extract<typeof e, { type: 'transcript' }> => e.type === 'transcript')
    .map((e) => ({
      role: e.role as 'user' | 'assistant',
      text: e.text,
      turn: e.turn,
      atMs: Math.round(e.at),
      interrupted: undefined,
      latency: undefined,
    }));
  const hang = sim.events.find((e) => e.type === 'hangup' || e.type === 'transfer');
  const closed = sim.events.find((e) => e.type === 'closed');
  return {
    endedBy: hang?.type === 'transfer' ? 'transfer_call' : hungUpByEngine ? 'engine' : 'caller',
    endReason: hang?.type === 'hangup' ? hang.reason : closed?.type === 'closed' ? closed.reason : undefined,
    turns: transcript.length ? Math.max(0, ...transcript.map((t) => t.turn)) : undefined,
    bargeIns: undefined,
    digits: undefined,
    tools: undefined,
    transcript,
    agentText: transcript.length ? transcript.filter((t) => t.role === 'assistant').map((t) => t.text) : undefined,
    latency: { voiceToVoiceMs: [], endpointingMs: [], clientVoiceToVoiceMs: clientV2V },
  };
}
