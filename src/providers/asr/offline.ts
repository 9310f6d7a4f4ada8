/**
 * The embedded offline ASR: Debian's `pocketsphinx_continuous` (0.8, en-US model) as a streaming child process.
 * Demo grade, and stated so in README: good on clear synthetic speech (flite), poor on 8 kHz phone audio.
 *
 * Audio in any engine format is converted to 16 kHz PCM16 (the model's rate) and piped to the recognizer, which
 * segments utterances on silence itself and prints each hypothesis followed by its word times (`-time yes`):
 *
 *   book a table for two          <- hypothesis line
 *   <s> 0.000 0.210 0.999600      <- word start end posterior, seconds from the start of the stream
 *   book 0.220 0.420 0.604376
 *   ...
 *   </s> 1.380 1.810 1.000000     <- end of the utterance
 *
 * Node pipes child stdio through a socketpair, which `-infile /dev/stdin` cannot open, hence the `cat |` shim; and
 * `stdbuf -oL` so that each hypothesis arrives when it is decided, not when the process exits.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import { AudioConverter } from '../../audio/convert.js';
import { type AudioFormat, MULAW_8K, PCM_8K, PCM_16K } from '../../audio/format.js';
import { unavailable } from '../classify.js';
import {
  type AsrEvent,
  type AsrOptions,
  type AsrProvider,
  type AsrStream,
  ProviderError,
  type Timing,
  type Word,
} from '../types.js';
import { which } from '../which.js';

export const POCKETSPHINX_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';
export const OFFLINE_ASR_HINT = 'offline asr needs pocketsphinx: apt-get install pocketsphinx pocketsphinx-en-us';

export interface OfflineAsrOptions {
  modelDir?: string;
}

/** Audio without an utterance end after which finalize() pads silence to end one, ms. */
const LONG_UTTERANCE_MS = 5000;

/**
 * A time on the recognizer's clock as a time in the caller's audio, ms: `pads` are [audio ms at the pad, pad ms]
 * pairs of silence written into the stream; what was padded before the time is taken off (a time inside a pad maps
 * to the pad's start).
 */
export function unpaddedMs(pads: readonly number[], streamMs: number): number {
  let t = streamMs;
  let padded = 0;
  for (let i = 0; i < pads.length; i += 2) {
    const at = pads[i]! + padded;
    if (streamMs <= at) break;
    t -= Math.min(pads[i + 1]!, streamMs - at);
    padded += pads[i + 1]!;
  }
  return t;
}

/** Is the recognizer installed? (binary on PATH and the en-US model present) */
export async function offlineAsrAvailable(modelDir = POCKETSPHINX_MODEL_DIR): Promise<boolean> {
  if (!(await which('pocketsphinx_continuous'))) return false;
  try {
    await access(`${modelDir}/en-us`);
    await access(`${modelDir}/cmudict-en-us.dict`);
    return true;
  } catch {
    return false;
  }
}

export class OfflineAsr implements AsrProvider {
  readonly id = 'offline';
  readonly formats: readonly AudioFormat[] = [PCM_16K, PCM_8K, MULAW_8K];
  constructor(private readonly opts: OfflineAsrOptions = {}) {}

  async open(options: AsrOptions, onEvent: (event: AsrEvent) => void, signal?: AbortSignal): Promise<AsrStream> {
    const dir = this.opts.modelDir ?? POCKETSPHINX_MODEL_DIR;
    if (!(await offlineAsrAvailable(dir))) throw unavailable(this.id, 'asr', OFFLINE_ASR_HINT);
    const stdbuf = await which('stdbuf');
    const args = [
      '-infile',
      '/dev/stdin',
      '-hmm',
      `${dir}/en-us`,
      '-lm',
      `${dir}/en-us.lm.bin`,
      '-dict',
      `${dir}/cmudict-en-us.dict`,
      '-logfn',
      '/dev/null',
      '-time',
      'yes',
      // No second (flat) decoding pass at the end of each utterance: that pass grows with the utterance's length
      // and made the final arrive 0.6-1.5 s after the caller stopped (seconds on a loaded machine); without it
      // 0.35-0.8 s, for about the same words at 8 kHz. The lattice pass stays: it gives the word confidences.
      '-fwdflat',
      'no',
    ];
    const script = `cat | exec ${stdbuf ? 'stdbuf -oL ' : ''}pocketsphinx_continuous "$@"`;
    const child = spawn('sh', ['-c', script, 'sh', ...args], { stdio: ['pipe', 'pipe', 'pipe'], signal });
    const stream = new PocketsphinxStream(child, options.format, onEvent, signal);
    await stream.started();
    return stream;
  }
}

/** A pocketsphinx word token: `word(2)` is an alternate pronunciation; <s>, </s>, <sil>, [NOISE] are fillers. */
function cleanWord(w: string): string | undefined {
  if (/^<.*>$|^\[.*\]$/.test(w)) return undefined;
  return w.replace(/\(\d+\)$/, '');
}

class PocketsphinxStream implements AsrStream {
  readonly timing: Timing = {};
  private readonly converter: AudioConverter;
  private readonly silence: Uint8Array;
  private pending = '';
  private hypothesis: string | undefined;
  private words: Word[] = [];
  private closed = false;
  private readonly exit: Promise<void>;
  private spawnError: Error | undefined;
  /** 16 kHz PCM16 bytes given to the recognizer since it last ended an utterance. */
  private sinceUtteranceBytes = 0;
  /** Caller audio written to the recognizer, bytes (16 kHz PCM16: 32 per ms), padding excluded. */
  private audioBytes = 0;
  /**
   * Silence padded into the stream (finalize), as [audio ms at the pad, pad ms] pairs: the recognizer's clock runs
   * ahead of the caller's audio by what was padded before a word, which its word times must not carry.
   */
  private readonly pads: number[] = [];

  constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    format: AudioFormat,
    private readonly onEvent: (e: AsrEvent) => void,
    private readonly signal?: AbortSignal,
  ) {
    this.converter = new AudioConverter(format, PCM_16K);
    this.silence = new Uint8Array(32_000); // 1 s of 16 kHz PCM16 at close: enough for the last end-of-utterance
    this.timing.requestSentAt = performance.now();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => this.onData(d));
    child.stderr.resume();
    child.stdin.on('error', () => {}); // EPIPE when the recognizer dies; reported through 'close'
    this.exit = new Promise((resolve) => {
      child.on('error', (err) => {
        this.spawnError = err;
      });
      child.on('close', (code) => {
        // killed by our own abort signal: a close, not a failure
        if (!this.closed && !this.signal?.aborted) {
          this.onEvent({
            type: 'error',
            error: new ProviderError({
              provider: 'offline',
              kind: 'asr',
              code: 'server',
              message: `offline asr: pocketsphinx exited (${code ?? this.spawnError?.message})`,
              retryable: false,
            }),
            fatal: true,
          });
        }
        this.closed = true;
        this.timing.doneAt = performance.now();
        this.onEvent({ type: 'closed' });
        resolve();
      });
    });
  }

  /** Resolves once the child is running; rejects if it could not start. */
  started(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.child.pid) return resolve();
      this.child.once('spawn', () => resolve());
      this.child.once('error', (err) =>
        reject(
          new ProviderError({
            provider: 'offline',
            kind: 'asr',
            code: 'unavailable',
            message: `${OFFLINE_ASR_HINT} (${err.message})`,
            retryable: false,
          }),
        ),
      );
    });
  }

  private onData(d: string): void {
    this.timing.firstByteAt ??= performance.now();
    this.pending += d;
    let nl = this.pending.indexOf('\n');
    while (nl >= 0) {
      this.onLine(this.pending.slice(0, nl).trim());
      this.pending = this.pending.slice(nl + 1);
      nl = this.pending.indexOf('\n');
    }
  }

  private onLine(line: string): void {
    const m = /^(\S+) (\d+\.\d+) (\d+\.\d+) (-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)$/.exec(line);
    if (!m) {
      if (line) {
        this.hypothesis = line;
        this.words = [];
      }
      return;
    }
    const [, token, start, end, prob] = m;
    const word = cleanWord(token!);
    if (word)
      this.words.push({
        word,
        startMs: unpaddedMs(this.pads, Math.round(Number(start) * 1000)),
        endMs: unpaddedMs(this.pads, Math.round(Number(end) * 1000)),
        confidence: Math.min(1, Number(prob)),
      });
    if (token === '</s>') this.sinceUtteranceBytes = 0;
    if (token === '</s>' && this.hypothesis !== undefined) {
      const words = this.words;
      const text = this.hypothesis;
      this.hypothesis = undefined;
      this.words = [];
      const confidence = words.length ? words.reduce((s, w) => s + (w.confidence ?? 0), 0) / words.length : undefined;
      this.onEvent({ type: 'final', text, words, confidence, speechFinal: true });
      this.onEvent({ type: 'utterance_end', lastWordEndMs: words.at(-1)?.endMs });
    }
  }

  write(audio: Uint8Array): void {
    if (this.closed || !audio.length) return;
    const pcm = this.converter.convert(audio);
    // the converter's output is a view reused on the next call; the pipe keeps what it is given until flushed
    if (pcm.length) this.child.stdin.write(Buffer.from(pcm));
    this.sinceUtteranceBytes += pcm.length;
    this.audioBytes += pcm.length;
  }

  /**
   * Usually nothing: the recognizer ends the utterance in the caller's real pause. Padding silence into a live
   * stream puts everything the caller says next that much later (a second per pause: seconds behind after a few,
   * finals arriving after the caller went on). Only when it has ended no utterance for LONG_UTTERANCE_MS of audio (a
   * caller who talks on with short pauses only) is the silence padded, so that its words come and the turn can be
   * cut at maxUtteranceMs.
   */
  finalize(): void {
    if (this.closed || this.sinceUtteranceBytes < LONG_UTTERANCE_MS * 32) return;
    this.sinceUtteranceBytes = 0;
    this.pads.push(this.audioBytes / 32, this.silence.length / 32);
    this.child.stdin.write(this.silence);
  }

  async close(): Promise<void> {
    if (this.closed) {
      await this.exit;
      return;
    }
    this.closed = true;
    // trailing silence lets the recognizer end the last utterance; EOF then makes it print and exit
    this.child.stdin.write(this.silence);
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exit;
    clearTimeout(timer);
  }
}
