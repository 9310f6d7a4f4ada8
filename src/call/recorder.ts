import { type FileHandle, mkdir, open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AssistantConfig } from '../assistant.js';
import type { AudioChunk } from '../audio/format.js';
import { alawDecode, mulawDecode } from '../audio/g711.js';
import { Resampler } from '../audio/resample.js';

/**
 * Stereo call recording: caller on the left, agent on the right, both at the caller's inbound rate, on one call
 * timeline. The caller channel advances with every inbound frame; agent audio is laid down from the caller position
 * at which each utterance started (it plays while the caller's frames keep arriving), and a barge-in cuts the agent
 * channel back to what had played.
 *
 * Storage is fixed-size blocks (BLOCK_SECONDS) allocated as the call grows: a frame costs one typed-array copy.
 * With a file (`stream(file)`), a block is final once the caller is HOLDBACK_SECONDS past its end (agent audio is
 * never placed before the caller position): it is interleaved, appended to the WAV and freed, so memory stays
 * bounded on long calls and a crash leaves a readable file (RIFF/data sizes 0xffffffff, patched on save()).
 */
const BLOCK_SECONDS = 10;
const HOLDBACK_SECONDS = 2;
const HEADER_BYTES = 44;

class Track {
  readonly blockLen: number;
  /** null: written out and freed. */
  readonly blocks: (Int16Array | null)[] = [];
  length = 0;
  dropped = 0;

  constructor(rate: number) {
    this.blockLen = rate * BLOCK_SECONDS;
  }

  private ensure(end: number): void {
    while (this.blocks.length * this.blockLen < end) this.blocks.push(new Int16Array(this.blockLen));
  }

  /** Write `src` at sample position `pos` (overwrites). Samples for freed blocks are dropped and counted. */
  write(pos: number, src: Int16Array): void {
    const end = pos + src.length;
    this.ensure(end);
    let i = 0;
    while (i < src.length) {
      const p = pos + i;
      const b = Math.floor(p / this.blockLen);
      const off = p - b * this.blockLen;
      const n = Math.min(src.length - i, this.blockLen - off);
      const block = this.blocks[b];
      if (block) block.set(src.subarray(i, i + n), off);
      else this.dropped += n;
      i += n;
    }
    if (end > this.length) this.length = end;
  }

  /** Silence from `pos` to the end. */
  truncate(pos: number): void {
    for (let p = pos; p < this.length; ) {
      const b = Math.floor(p / this.blockLen);
      const off = p - b * this.blockLen;
      const n = Math.min(this.length - p, this.blockLen - off);
      this.blocks[b]?.fill(0, off, off + n);
      p += n;
    }
    this.length = Math.min(this.length, pos);
  }
}

function wavHeader(sampleRate: number, dataBytes: number): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(dataBytes === 0xffffffff ? 0xffffffff : 36 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(2, 22); // channels
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 4, 28);
  h.writeUInt16LE(4, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/**
 * Finishes a streamed recording left by a process that died mid-call (crash recovery, src/call-recovery.ts): the
 * header still says 0xffffffff, the file holds the header plus whole 10 s blocks (maybe a torn last write). The
 * data is cut to whole stereo frames and the RIFF/data sizes set to match. Returns the audio bytes kept, or
 * undefined when the file is missing or is not one of our recordings.
 */
export async function finalizeStreamedWav(file: string): Promise<number | undefined> {
  const h = await open(file, 'r+').catch(() => undefined);
  if (!h) return undefined;
  try {
    const head = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await h.read(head, 0, HEADER_BYTES, 0);
    if (
      bytesRead < HEADER_BYTES ||
      head.toString('ascii', 0, 4) !== 'RIFF' ||
      head.toString('ascii', 36, 40) !== 'data'
    )
      return undefined;
    const sampleRate = head.readUInt32LE(24);
    const { size } = await h.stat();
    const data = Math.floor((size - HEADER_BYTES) / 4) * 4;
    await h.truncate(HEADER_BYTES + data);
    await h.write(wavHeader(sampleRate, data), 0, HEADER_BYTES, 0);
    return data;
  } finally {
    await h.close();
  }
}

/** The call's recorder, or none: recordAudio off, or save-conversation disabled (catalog: it controls transcript
 * and recording, so nothing is recorded at all). */
export function callRecorder(config: AssistantConfig, sampleRate: number): StereoCallRecorder | undefined {
  const off = config.settings?.recordAudio === false || config.hangup?.saveConversation?.enabled === false;
  return off ? undefined : new StereoCallRecorder(sampleRate);
}

export class StereoCallRecorder {
  readonly sampleRate: number;
  private readonly caller: Track;
  private readonly agent: Track;
  private agentCursor = 0;
  private resamplers = new Map<number, Resampler>();
  private scratch = new Int16Array(0);
  /** Streaming: the file, the blocks already appended to it, and the chain of pending writes. */
  private file: string | undefined;
  private handle: FileHandle | undefined;
  private written = 0;
  private chain: Promise<void> = Promise.resolve();
  private writeError: Error | undefined;

  constructor(sampleRate: number) {
    this.sampleRate = sampleRate;
    this.caller = new Track(sampleRate);
    this.agent = new Track(sampleRate);
  }

  /** Write finished blocks to `file` as the call goes (bounded memory, crash-readable). Call before audio. */
  stream(file: string): void {
    this.file = file;
    this.enqueue(async () => {
      await mkdir(path.dirname(file), { recursive: true });
      // Exclusive: a per-call file is never overwritten (src/call-files.ts).
      this.handle = await open(file, 'wx');
      await this.handle.write(wavHeader(this.sampleRate, 0xffffffff), 0, HEADER_BYTES, 0);
    });
  }

  /** Resolves when the writes queued so far are on disk. */
  flushed(): Promise<void> {
    return this.chain;
  }

  /** Caller samples recorded so far (the call timeline). */
  get position(): number {
    return this.caller.length;
  }

  /** Agent samples that arrived for audio already written out (should stay 0). */
  get droppedSamples(): number {
    return this.caller.dropped + this.agent.dropped;
  }

  /** One inbound frame (PCM16 at sampleRate; copied). */
  callerFrame(pcm: Int16Array): void {
    this.caller.write(this.caller.length, pcm);
    if (this.file) {
      const bl = this.caller.blockLen;
      // A block is final when the caller is HOLDBACK past its end.
      if (this.caller.length >= (this.written + 1) * bl + HOLDBACK_SECONDS * this.sampleRate)
        this.flushBlock(this.written++);
    }
  }

  /** A new agent utterance starts playing no earlier than now. */
  agentUtteranceStart(): void {
    if (this.agentCursor < this.caller.length) this.agentCursor = this.caller.length;
  }

  agentAudio(chunk: AudioChunk): void {
    const pcm = this.toPcm(chunk);
    if (pcm.length === 0) return;
    if (this.agentCursor < this.caller.length - this.sampleRate) this.agentCursor = this.caller.length;
    this.agent.write(this.agentCursor, pcm);
    this.agentCursor += pcm.length;
  }

  /** Barge-in: the agent audio after the caller's current position was never heard. */
  agentCleared(): void {
    const pos = this.caller.length;
    if (this.agent.length > pos) this.agent.truncate(pos);
    this.agentCursor = pos;
  }

  /** Interleaved stereo PCM16 WAV of the whole call (in-memory recordings only). */
  toWav(): Buffer {
    if (this.written > 0) throw new Error('toWav: this recording streams to a file; use save()');
    const frames = Math.max(this.caller.length, this.agent.length);
    return Buffer.concat([wavHeader(this.sampleRate, frames * 4), this.interleave(0, frames)]);
  }

  /** Write the recording (or finish the streamed file) and return its path. */
  async save(file: string): Promise<string> {
    if (!this.file) {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, this.toWav(), { flag: 'wx' });
      return file;
    }
    const total = Math.max(this.caller.length, this.agent.length);
    const bl = this.caller.blockLen;
    const from = this.written * bl;
    const rest = this.interleave(from, total - from);
    const streamed = this.file;
    this.enqueue(async () => {
      const h = this.handle!;
      await h.write(rest, 0, rest.length, HEADER_BYTES + from * 4);
      await h.write(wavHeader(this.sampleRate, total * 4), 0, HEADER_BYTES, 0);
      await h.close();
      this.handle = undefined;
    });
    this.file = undefined;
    await this.chain;
    if (this.writeError) throw this.writeError;
    return streamed;
  }

  private flushBlock(b: number): void {
    const bl = this.caller.blockLen;
    const data = this.interleave(b * bl, bl);
    this.caller.blocks[b] = null;
    if (this.agent.blocks.length > b) this.agent.blocks[b] = null;
    this.enqueue(async () => {
      await this.handle?.write(data, 0, data.length, HEADER_BYTES + b * bl * 4);
    });
  }

  private enqueue(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((err: unknown) => {
      this.writeError ??= err as Error;
    });
  }

  /** Frames [from, from + n) as interleaved little-endian [caller, agent] bytes. */
  private interleave(from: number, n: number): Buffer {
    const out = Buffer.alloc(Math.max(0, n) * 4);
    const bl = this.caller.blockLen;
    for (let i = 0; i < n; i++) {
      const p = from + i;
      const b = Math.floor(p / bl);
      const off = p - b * bl;
      const c = p < this.caller.length ? (this.caller.blocks[b]?.[off] ?? 0) : 0;
      const a = p < this.agent.length ? (this.agent.blocks[b]?.[off] ?? 0) : 0;
      out.writeInt16LE(c, i * 4);
      out.writeInt16LE(a, i * 4 + 2);
    }
    return out;
  }

  private toPcm(chunk: AudioChunk): Int16Array {
    const f = chunk.format;
    let pcm: Int16Array;
    if (f.encoding === 'mulaw') pcm = mulawDecode(chunk.data, this.scratchFor(chunk.data.length));
    else if (f.encoding === 'alaw') pcm = alawDecode(chunk.data, this.scratchFor(chunk.data.length));
    else {
      const n = chunk.data.byteLength >> 1;
      pcm = this.scratchFor(n);
      const dv = new DataView(chunk.data.buffer, chunk.data.byteOffset, n * 2);
      for (let i = 0; i < n; i++) pcm[i] = dv.getInt16(i * 2, true);
    }
    if (f.sampleRate === this.sampleRate) return pcm;
    let r = this.resamplers.get(f.sampleRate);
    if (!r) {
      r = new Resampler(f.sampleRate, this.sampleRate);
      this.resamplers.set(f.sampleRate, r);
    }
    return r.process(pcm);
  }

  private scratchFor(n: number): Int16Array {
    if (this.scratch.length < n) this.scratch = new Int16Array(n);
    return this.scratch.subarray(0, n);
  }
}
