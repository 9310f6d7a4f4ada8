import type { AudioChunk } from '../audio/format.js';
import { SilenceTrimmer } from '../audio/trim.js';
import type { TtsTextStream } from '../providers/types.js';
import type { Piece } from './heard-text.js';

/**
 * The audio side of an utterance's pieces: one piece's TTS audio in progress (from a per-clause synthesize() or
 * from a reply's text stream), trimmed of leading / trailing silence, held until the piece is the live one and then
 * streamed to the leg through the utterance's send().
 *
 * Incremental text (TtsProvider.openTextStream: ElevenLabs stream-input, Deepgram speak WebSocket): a run of
 * consecutive clauses of one reply is ONE piece spoken over ONE text stream (one context), each clause pushed and
 * flushed the moment the splitter cuts it, so the provider generates the reply ahead while earlier audio plays and
 * keeps its prosody across clauses. The run ends (the stream flushes and closes its context) at the end of the
 * reply, before uninterruptible text or cached audio (each their own piece, with their own marks) and before a
 * tool call; barge-in aborts the utterance's signal, which cancels the stream (close_context / Clear).
 */
export interface Synth {
  index: number;
  /** Chunks that arrived before the piece went live. */
  chunks: AudioChunk[];
  live: boolean;
  done: Promise<void>;
  error: unknown;
}

export interface SynthHost {
  readonly cancelled: boolean;
  /** A TTS byte arrived (the first one times the utterance). */
  firstByte(): void;
  /** To the leg (the piece is live). */
  send(chunk: AudioChunk): void;
}

/** Consume `source`, the TTS audio of `piece`, into a Synth (its words and rate noted on the piece for truncation). */
export function startPieceAudio(
  host: SynthHost,
  piece: Piece,
  index: number,
  source: AsyncIterable<AudioChunk>,
): Synth {
  const synth: Synth = { index, chunks: [], live: false, done: Promise.resolve(), error: undefined };
  const trim = new SilenceTrimmer();
  piece.trim = trim;
  synth.done = (async () => {
    try {
      for await (const chunk of source) {
        if (host.cancelled) return;
        host.firstByte();
        piece.rate ??= chunk.format.sampleRate;
        if (chunk.words?.length) piece.words = piece.words ? piece.words.concat(chunk.words) : chunk.words;
        for (const c of trim.push(chunk)) {
          if (synth.live) host.send(c);
          else synth.chunks.push(c);
        }
      }
      trim.end();
    } catch (err) {
      synth.error = err;
    }
  })();
  return synth;
}

/** The open text stream of a run of clauses, and its piece (whose text grows with each clause). */
export class TextStreamRun {
  constructor(
    readonly piece: Piece,
    private readonly stream: TtsTextStream,
  ) {}

  /** A clause: pushed with its space, and flushed (the first clause of a reply may end at a comma). */
  add(text: string): void {
    this.piece.text = this.piece.text ? `${this.piece.text} ${text}` : text;
    this.stream.pushText(`${text} `);
    this.stream.flush?.();
  }

  /** No more text in this run: the provider generates the rest and ends the stream. */
  end(): void {
    this.stream.end();
  }
}
