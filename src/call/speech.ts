import { type AudioChunk, type AudioFormat, bytesPerSample } from '../audio/format.js';
import { amplitudeOf, firstAudible, part, TRIM_DEFAULTS } from '../audio/trim.js';
import type { TtsProvider, TtsRequest } from '../providers/types.js';
import type { MediaLeg } from '../telephony/leg.js';
import { heardOf, type Piece, type TruncationMethod } from './heard-text.js';
import { type Synth, type SynthHost, startPieceAudio, TextStreamRun } from './stream-speaker.js';
import { speakable, TextSplitter } from './text-split.js';

/**
 * One agent utterance: LLM text deltas -> clause/sentence splitter -> TTS -> MediaLeg.play, pipelined so the first
 * clause plays while the rest is generated and synthesized (the leg queues and paces; we only feed it). A TTS with
 * openTextStream gets the clauses over one text stream per run of the reply (src/call/stream-speaker.ts); any other
 * one request per clause, the next one synthesized ahead.
 *
 * It also keeps the map from text to outbound samples, so that on barge-in the assistant message can be cut to what
 * the caller heard: each piece knows the sample range it occupies in the leg's outbound stream; the leg's
 * playedSamples (confirmed by marks where the protocol echoes them) says how far playback got.
 */
export interface SpeechTimings {
  /** First TTS byte of this utterance (session clock, ms). */
  ttsFirstByteAt?: number;
  /** First audio handed to the leg (session clock, ms). */
  firstAudioAt?: number;
  /**
   * When the caller hears the first audible sample (session clock, ms): the hand-off time plus the audio queued on
   * the leg ahead of it plus the offset of the first sample above the trim threshold in the first chunk.
   */
  firstAudibleAt?: number;
  /** Thinking audio started (the answer was slower than settings.fillerAfterMs), and which. */
  thinkingAudioAt?: number;
  thinkingAudio?: string;
}

export type { TruncationMethod } from './heard-text.js';

const AUDIBLE = amplitudeOf(TRIM_DEFAULTS.thresholdDb);

export interface UtteranceOptions {
  id: string;
  leg: MediaLeg;
  tts: TtsProvider;
  request: Omit<TtsRequest, 'text' | 'format'>;
  now: () => number;
  /** Every chunk sent to the leg (the recorder's agent channel). */
  onAudio?: (chunk: AudioChunk) => void;
  /** Called once per utterance when its first audio goes to the leg. */
  onFirstAudio?: (at: number) => void;
  /** The caller has heard the last uninterruptible piece: the utterance may be interrupted again. */
  onHoldEnd?: () => void;
  /** The prelude (thinking audio) was cleared from the leg for the first audio of the answer. */
  onPreludeCut?: () => void;
  onError?: (err: unknown) => void;
}

export class Utterance {
  readonly id: string;
  readonly timings: SpeechTimings = {};
  /** Session clock at creation: caller speech counts toward a barge-in only from here. */
  readonly startedAt: number;
  private readonly opts: UtteranceOptions;
  private readonly abort = new AbortController();
  private readonly splitter = new TextSplitter();
  private readonly pieces: Piece[] = [];
  private readonly outRate: number;
  private readonly format: AudioFormat;
  private next = 0;
  private queuedSamples = 0;
  /** Leg stream position (samples) of this utterance's sample 0; moved when a pause is resumed. */
  private baseSamples: number;
  /** Every chunk queued, with its start (samples, outbound rate, relative to the utterance): a pause replays them. */
  private readonly sent: { start: number; chunk: AudioChunk }[] = [];
  /** Paused for caller speech: audio is kept, not sent; `pausedAt` is what the caller had heard. */
  private paused = false;
  private pausedAt = 0;
  /** The end mark is due (the worker finished while paused). */
  private endMarkDue = false;
  private ended = false;
  private working = false;
  private wake: (() => void) | undefined;
  private confirmedPieces = 0;
  private finishedResolve!: () => void;
  private synthResolve!: () => void;
  /** Resolves when all text has been synthesized and queued on the leg (or the utterance was cancelled). */
  readonly synthesized: Promise<void>;
  /** Resolves when the caller has heard the end (end mark echoed / playback idle) or the utterance was cancelled. */
  readonly finished: Promise<void>;
  private isFinished = false;
  cancelled = false;
  /** The session has put this utterance's text in the LLM history (so a barge-in edits it rather than adds). */
  replyPushed = false;
  /** The piece streaming to the leg now, and the next one being synthesized ahead. */
  private live: Synth | undefined;
  private ahead: Synth | undefined;
  /** The text stream taking this reply's clauses now (TTS with openTextStream), until the run ends. */
  private run: TextStreamRun | undefined;
  /** Pieces spoken over a text stream: their audio started with the stream. */
  private readonly streamed = new Map<number, Synth>();
  /** Audio collected for caching (only when asked). */
  private collect: AudioChunk[] | undefined;
  /** Thinking audio queued on the leg ahead of this utterance's first audio. */
  private preluding = false;
  /** How heardText() found the heard words, once asked. */
  private truncatedBy: TruncationMethod | undefined;
  /** The TTS and request of clauses not yet started (a live config change swaps them between clauses). */
  private tts: TtsProvider;
  private request: Omit<TtsRequest, 'text' | 'format'>;

  constructor(opts: UtteranceOptions) {
    this.opts = opts;
    this.id = opts.id;
    this.tts = opts.tts;
    this.request = opts.request;
    this.format = opts.leg.info.outboundFormat;
    this.outRate = this.format.sampleRate;
    this.baseSamples = opts.leg.playedSamples + opts.leg.pendingSamples;
    this.startedAt = opts.now();
    this.synthesized = new Promise((r) => {
      this.synthResolve = r;
    });
    this.finished = new Promise((r) => {
      this.finishedResolve = r;
    });
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Clauses whose synthesis has not started yet use this TTS and request (live config change). */
  retarget(tts: TtsProvider, request: Omit<TtsRequest, 'text' | 'format'>): void {
    this.endRun();
    this.tts = tts;
    this.request = request;
  }

  /** Keep the audio of this utterance (greeting cache). */
  collectAudio(): void {
    this.collect = [];
  }

  get collectedAudio(): AudioChunk[] | undefined {
    return this.collect;
  }

  /** Streamed LLM text. */
  pushText(delta: string): void {
    if (this.cancelled || this.ended) return;
    for (const p of this.splitter.push(delta)) this.addPiece(p);
  }

  /**
   * Text known in full (greeting, filler, menu reply). `hold`: uninterruptible until heard; it goes to the TTS as
   * one piece after whatever text came before it.
   */
  say(text: string, hold = false): void {
    if (!hold) {
      this.pushText(text.endsWith(' ') ? text : `${text} `);
      return;
    }
    if (this.cancelled || this.ended) return;
    this.breakText();
    this.addPiece(text, true);
  }

  /** The text so far is a unit (a tool call follows): speak it all and end the text stream's run. */
  breakText(): void {
    if (this.cancelled || this.ended) return;
    const rest = this.splitter.flush();
    if (rest) this.addPiece(rest);
    this.endRun();
  }

  /** Audio already synthesized (greeting cache): played as one piece with its text. */
  playCached(text: string, audio: AudioChunk[], hold = false): void {
    if (this.cancelled || this.ended) return;
    this.endRun();
    this.pieces.push({ text, start: -1, end: -1, audio, ...(hold ? { hold } : {}) });
    this.kick();
  }

  /**
   * Thinking audio while nothing of this utterance has been sent: queued on the leg now, cleared from it the moment
   * the first audio of the answer goes out. False (nothing played) once the answer has started or it was cut.
   */
  prelude(chunks: readonly AudioChunk[]): boolean {
    if (this.cancelled || this.queuedSamples > 0 || this.paused || this.opts.leg.closed) return false;
    for (const c of chunks) {
      this.opts.leg.play(c);
      this.opts.onAudio?.(c);
    }
    this.preluding = true;
    return true;
  }

  /** Uninterruptible text is still to be heard. */
  get holding(): boolean {
    if (this.isFinished || this.cancelled) return false;
    return this.pieces.findLastIndex((p) => p.hold === true) >= this.confirmedPieces;
  }

  /** No more text. */
  end(): void {
    if (this.ended) return;
    const rest = this.splitter.flush();
    if (rest) this.addPiece(rest);
    this.endRun();
    this.ended = true;
    this.kick();
  }

  /** Stop synthesis now (barge-in, hangup); the caller clears the leg. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.ended = true;
    this.abort.abort();
    this.wake?.();
    this.synthResolve();
    this.markFinished();
  }

  /** All text given to this utterance so far (what it meant to say). */
  get fullText(): string {
    return this.pieces.map((p) => p.text).join(' ');
  }

  get hasText(): boolean {
    return this.pieces.length > 0;
  }

  /**
   * Caller speech: stop the audio now, keep the position. The caller of pause() clears the leg (the platform drops
   * what it buffered); everything from the heard position on is kept and synthesis goes on into it.
   */
  pause(): void {
    if (this.paused || this.cancelled || this.isFinished) return;
    this.pausedAt = this.heardSamples();
    this.paused = true;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** A false interruption: play on from where the caller stopped hearing, marks and all. */
  resume(): void {
    if (!this.paused || this.cancelled) return;
    this.paused = false;
    const from = this.pausedAt;
    const leg = this.opts.leg;
    // Utterance sample `from` is where the leg's stream is now.
    this.baseSamples = leg.playedSamples + leg.pendingSamples - from;
    let piece = 0;
    for (const { start, chunk } of this.sent) {
      // Marks of the pieces that end before this chunk, where they fall.
      while (piece < this.next && this.pieces[piece]!.end >= 0 && this.pieces[piece]!.end <= start) {
        if (this.pieces[piece]!.end > from) leg.mark(`${this.id}:${piece}`);
        piece++;
      }
      const n = this.samplesOf(chunk);
      if (start + n <= from) continue;
      // From sample `from` on (chunk samples may be at the TTS rate), cut on a sample boundary (a view, no copy).
      const cn = chunk.data.byteLength / bytesPerSample(chunk.format);
      const rest = start >= from ? chunk : part(chunk, Math.min(cn, Math.round((cn * (from - start)) / n)), cn);
      if (rest.data.byteLength === 0) continue;
      leg.play(rest);
      this.opts.onAudio?.(rest);
    }
    for (; piece < this.next; piece++) leg.mark(`${this.id}:${piece}`);
    if (this.endMarkDue) {
      this.endMarkDue = false;
      leg.mark(`${this.id}:end`);
    }
  }

  /** Samples of this utterance the caller has heard. */
  heardSamples(): number {
    if (this.paused) return this.pausedAt;
    const played = this.opts.leg.playedSamples - this.baseSamples;
    let confirmed = 0;
    if (this.confirmedPieces > 0) {
      const p = this.pieces[this.confirmedPieces - 1];
      if (p && p.end >= 0) confirmed = p.end;
    }
    return Math.max(0, played, confirmed);
  }

  /**
   * What the caller heard: whole pieces before the playout point, then the words of the piece in progress: those
   * whose TTS word timing ends before the playout point when the provider gave timings, else a share of its words
   * in proportion to its samples; cut at a word boundary. `truncation` says which was used.
   */
  heardText(): string {
    const { text, method } = heardOf(this.pieces, this.heardSamples(), this.outRate, this.queuedSamples);
    this.truncatedBy = method;
    return text;
  }

  /** How the last heardText() found the heard words (undefined until asked). */
  get truncation(): TruncationMethod | undefined {
    return this.truncatedBy;
  }

  /** The leg echoed a mark of ours. */
  onMark(name: string, played: boolean): void {
    // A pause's clear resolves every pending mark unplayed: they are sent again on resume.
    if (this.paused || !name.startsWith(`${this.id}:`)) return;
    const tag = name.slice(this.id.length + 1);
    if (tag === 'end') {
      this.markFinished();
      return;
    }
    const i = Number(tag);
    if (played && Number.isInteger(i) && i + 1 > this.confirmedPieces) {
      const held = this.holding;
      this.confirmedPieces = i + 1;
      if (held && !this.holding) this.opts.onHoldEnd?.();
    }
  }

  /** The leg played everything queued. */
  onPlaybackIdle(): void {
    if (this.paused) return;
    if (this.ended && !this.working && this.next >= this.pieces.length) this.markFinished();
  }

  get isDone(): boolean {
    return this.isFinished;
  }

  private markFinished(): void {
    if (this.isFinished) return;
    this.isFinished = true;
    this.finishedResolve();
  }

  private addPiece(raw: string, hold = false): void {
    const text = speakable(raw);
    if (!text) return;
    if (!hold && this.tts.openTextStream) {
      if (!this.run) {
        const index = this.pieces.length;
        const piece: Piece = { text: '', start: -1, end: -1, stream: true };
        const stream = this.tts.openTextStream({ ...this.request, format: this.format }, this.abort.signal);
        this.pieces.push(piece);
        this.streamed.set(index, startPieceAudio(this.host, piece, index, stream.audio));
        this.run = new TextStreamRun(piece, stream);
      }
      this.run.add(text);
      this.kick();
      return;
    }
    this.endRun();
    this.pieces.push({ text, start: -1, end: -1, ...(hold ? { hold } : {}) });
    this.kick();
  }

  /** The text stream's run is over: the provider speaks what it has and ends the stream. */
  private endRun(): void {
    this.run?.end();
    this.run = undefined;
  }

  private kick(): void {
    this.lookAhead();
    if (this.wake) {
      const w = this.wake;
      this.wake = undefined;
      w();
    }
    if (!this.working) {
      this.working = true;
      void this.work();
    }
  }

  /** One worker per utterance: pieces are synthesized in order, each streamed to the leg as its audio arrives. */
  private async work(): Promise<void> {
    try {
      for (;;) {
        if (this.cancelled) break;
        const piece = this.pieces[this.next];
        if (!piece) {
          if (this.ended) break;
          await new Promise<void>((r) => {
            this.wake = r;
          });
          continue;
        }
        piece.start = this.queuedSamples;
        if (piece.audio) {
          for (const chunk of piece.audio) this.send(chunk);
        } else {
          // The piece's synthesis may have started already (look-ahead); its early chunks go out first.
          const synth =
            this.streamed.get(this.next) ?? (this.ahead?.index === this.next ? this.ahead : this.startSynth(this.next));
          this.streamed.delete(this.next);
          if (this.ahead?.index === this.next) this.ahead = undefined;
          this.live = synth;
          for (const c of synth.chunks) this.send(c);
          synth.chunks.length = 0;
          synth.live = true;
          this.lookAhead();
          await synth.done;
          this.live = undefined;
          if (synth.error !== undefined) throw synth.error;
        }
        if (this.cancelled) break;
        piece.end = this.queuedSamples;
        if (!this.paused) this.opts.leg.mark(`${this.id}:${this.next}`);
        this.next++;
      }
    } catch (err) {
      if (!this.cancelled) this.opts.onError?.(err);
    } finally {
      this.working = false;
      if (!this.cancelled) {
        if (this.paused) this.endMarkDue = true;
        else this.opts.leg.mark(`${this.id}:end`);
        // Nothing was queued at all: nothing to wait for.
        if (this.queuedSamples === 0) this.markFinished();
      }
      this.synthResolve();
    }
  }

  /**
   * Start synthesizing piece `index`. Until it is the live piece its chunks are held (in order); then they stream
   * straight to the leg. One piece of look-ahead hides the TTS first-byte time between short clauses.
   */
  private startSynth(index: number): Synth {
    const piece = this.pieces[index]!;
    const req: TtsRequest = { ...this.request, text: piece.text, format: this.format };
    return startPieceAudio(this.host, piece, index, this.tts.synthesize(req, this.abort.signal, {}));
  }

  /** What a piece's audio needs from the utterance. */
  private readonly host: SynthHost = ((u: Utterance) => ({
    get cancelled() {
      return u.cancelled;
    },
    firstByte: () => {
      u.timings.ttsFirstByteAt ??= u.opts.now();
    },
    send: (chunk: AudioChunk) => u.send(chunk),
  }))(this);

  /** While a piece streams, start the next one (text pieces only; cached audio needs no TTS). */
  private lookAhead(): void {
    if (this.cancelled || this.ahead || !this.live) return;
    const i = this.live.index + 1;
    const next = this.pieces[i];
    if (next && !next.audio && !next.stream) this.ahead = this.startSynth(i);
  }

  private send(chunk: AudioChunk): void {
    if (chunk.data.byteLength === 0 || this.opts.leg.closed) return;
    this.sent.push({ start: this.queuedSamples, chunk });
    this.queuedSamples += this.samplesOf(chunk);
    this.collect?.push(chunk);
    // Paused: kept for the resume, not played.
    if (this.paused) return;
    if (this.preluding) {
      // The answer starts: the thinking audio stops now, and this utterance's sample 0 is where the leg is.
      this.preluding = false;
      this.opts.leg.clear();
      this.opts.onPreludeCut?.();
      this.baseSamples = this.opts.leg.playedSamples + this.opts.leg.pendingSamples;
    }
    const ahead = this.timings.firstAudibleAt === undefined ? this.opts.leg.pendingSamples : 0;
    this.opts.leg.play(chunk);
    if (this.timings.firstAudioAt === undefined) {
      this.timings.firstAudioAt = this.opts.now();
      this.opts.onFirstAudio?.(this.timings.firstAudioAt);
    }
    if (this.timings.firstAudibleAt === undefined) {
      const i = firstAudible(chunk, AUDIBLE);
      if (i >= 0) {
        const at = this.opts.now();
        this.timings.firstAudibleAt = at + (ahead * 1000) / this.outRate + (i * 1000) / chunk.format.sampleRate;
      }
    }
    this.opts.onAudio?.(chunk);
  }

  /** Length of a chunk in samples at the outbound rate. */
  private samplesOf(chunk: AudioChunk): number {
    const n = chunk.data.byteLength / bytesPerSample(chunk.format);
    return Math.round((n * this.outRate) / chunk.format.sampleRate);
  }

  /** Samples queued by this utterance (outbound rate). */
  get samplesQueued(): number {
    return this.queuedSamples;
  }
}
