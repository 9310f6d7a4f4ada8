/**
 * Everything `replay` reads, loaded and checked before anything starts (no engine, no socket): a bad input exits at
 * once with one message and its exit code, never after a call has begun.
 *  - the caller recording: WAV (our parser) or mp3 / ogg / m4a / flac (ffmpeg child), as 20 ms mu-law frames
 *  - a wire recording (.jsonl, settings.recordWire) with the assistant recorded in its header
 *  - the scenario (the recording's sibling .json, or --scenario)
 */
import { access, readFile } from 'node:fs/promises';
import type { AssistantConfig } from '../assistant.js';
import { linearToMulaw } from '../audio/g711.js';
import { resample } from '../audio/resample.js';
import { readAudioFile, TranscodeError } from '../audio/transcode.js';
import { WavError } from '../audio/wav.js';
import { parseWireRecording, type WireLine } from '../call/wire-recorder.js';
import { CliError, EXIT } from './args.js';
import type { CallerEvent, ExpectLike } from './replay-check.js';

const FRAME = 160; // 20 ms at 8 kHz

export interface ScenarioLike {
  assistant: AssistantConfig;
  expect: ExpectLike;
  name?: string;
  events: CallerEvent[];
}

export async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

export async function loadScenarioFile(file: string): Promise<ScenarioLike> {
  let json: {
    assistant?: AssistantConfig;
    expect?: ExpectLike;
    name?: string;
    events?: CallerEvent[];
    voicemail?: Record<string, unknown>;
  };
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`, EXIT.input);
  }
  if (!json || typeof json !== 'object' || typeof json.assistant !== 'object')
    throw new CliError(`${file}: not a scenario (no assistant)`, EXIT.input);
  // The AMD set carries assistant settings.voicemail (issue 18) beside the assistant, so that the fixtures validate
  // before the engine's schema knows the block; the engine gets it where it belongs.
  const assistant = json.voicemail
    ? ({ ...json.assistant, settings: { ...json.assistant.settings, voicemail: json.voicemail } } as AssistantConfig)
    : json.assistant;
  return {
    assistant,
    expect: json.expect ?? {},
    name: json.name,
    events: Array.isArray(json.events) ? json.events : [],
  };
}

export interface CallerAudio {
  /** mu-law 8 kHz, whole 20 ms frames (the last padded with silence). */
  mulaw: Uint8Array;
  /** PCM16 8 kHz, for DTMF detection and speech timing. */
  pcm: Int16Array;
  durationMs: number;
}

/** The recording as 20 ms mu-law frames at 8 kHz, from any audio file a user has. */
export async function loadCallerAudio(file: string): Promise<CallerAudio> {
  let audio: Awaited<ReturnType<typeof readAudioFile>>;
  try {
    audio = await readAudioFile(file, 8000);
  } catch (err) {
    if (err instanceof WavError || err instanceof TranscodeError) throw new CliError(err.message, EXIT.input);
    throw err;
  }
  if (audio.samples.length < FRAME) throw new CliError(`${file}: shorter than one 20 ms frame`, EXIT.input);
  let pcm: Int16Array;
  try {
    pcm = audio.sampleRate === 8000 ? audio.samples : resample(audio.samples, audio.sampleRate, 8000);
  } catch {
    throw new CliError(`${file}: unsupported sample rate ${audio.sampleRate} Hz`, EXIT.input);
  }
  const n = Math.ceil(pcm.length / FRAME) * FRAME;
  const mulaw = new Uint8Array(n).fill(0xff);
  for (let i = 0; i < pcm.length; i++) mulaw[i] = linearToMulaw(pcm[i]!);
  return { mulaw, pcm, durationMs: (pcm.length / 8000) * 1000 };
}

export interface WireInput {
  protocol?: string;
  messages: WireLine[];
  /** The assistant the call ran with (secrets redacted at recording), when the recording has it. */
  assistant?: AssistantConfig;
}

export async function loadWire(file: string): Promise<WireInput> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      EXIT.input,
    );
  }
  const wire = parseWireRecording(text);
  if (!wire.messages.length)
    throw new CliError(`${file}: no wire messages (expected a settings.recordWire JSONL recording)`, EXIT.input);
  return wire;
}

/** `--url` must be a WebSocket URL. */
export function checkUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CliError(`--url ${url}: not a URL (expected ws://host:port)`, EXIT.usage);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:')
    throw new CliError(`--url ${url}: expected a ws:// or wss:// URL`, EXIT.usage);
}
