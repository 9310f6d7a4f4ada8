import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AudioChunk } from '../audio/format.js';
import { alawDecode, mulawDecode } from '../audio/g711.js';
import { Resampler } from '../audio/resample.js';

/**
 * Stereo call recording: caller on the left, agent on the right, both at the caller's inbound rate, on one call
 * timeline. The caller channel advances with every inbound frame; agent audio is laid down from the caller position
 * at which each utterance started (it plays while the caller's frames keep arriving), and a barge-in cuts the agent
 * channel back to what had played. Storage is fixed-size blocks allocated as the call grows, so a frame costs one
 * typed-array copy and no allocation in steady state.
 */
const BLOCK_SECONDS = 10;

class Track {
  private readonly blockLen: number;
  private readonly blocks: Int16Array[] = [];
  length = 0;

  constructor(rate: number) {
    this.blockLen = rate * BLOCK_SECONDS;
  }

  private ensure(end: number): void {
    while (this.blocks.length * this.blockLen < end) this.blocks.push(new Int16Array(this.blockLen));
  }

  /** Write `src` at sample position `pos` (overwrites). */
  write(pos: number, src: Int16Array): void {
    const end = pos + src.length;
    this.ensure(end);
    let i = 0;
    while (i < src.length) {
      const p = pos + i;
      const b = Math.floor(p / this.blockLen);
      const off = p - b * this.blockLen;
      const n = Math.min(src.length - i, this.blockLen - off);
      this.blocks[b]!.set(src.subarray(i, i + n), off);
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
      this.blocks[b]!.fill(0, off, off + n);
      p += n;
    }
    this.length = Math.min(this.length, pos);
  }

  at(i: number): number {
    if (i >= this.length) return 0;
    const b = Math.floor(i / this.blockLen);
    return this.blocks[b]![i - b * this.blockLen]!;
  }
}

export class StereoCallRecorder {
  readonly sampleRate: number;
  private readonly caller: Track;
  private readonly agent: Track;
  private agentCursor = 0;
  private resamplers = new Map<number, Resampler>();
  private scratch = new Int16Array(0);

  constructor(sampleRate: number) {
    this.sampleRate = sampleRate;
    this.caller = new Track(sampleRate);
    this.agent = new Track(sampleRate);
  }

  /** Caller samples recorded so far (the call timeline). */
  get position(): number {
    return this.caller.length;
  }

  /** One inbound frame (PCM16 at sampleRate; copied). */
  callerFrame(pcm: Int16Array): void {
    this.caller.write(this.caller.length, pcm);
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

  /** Interleaved stereo PCM16 WAV (RIFF, 44-byte header). */
  toWav(): Buffer {
    const frames = Math.max(this.caller.length, this.agent.length);
    const dataBytes = frames * 4;
    const buf = Buffer.alloc(44 + dataBytes);
    buf.write('RIFF', 0, 'ascii');
    buf.writeUInt32LE(36 + dataBytes, 4);
    buf.write('WAVE', 8, 'ascii');
    buf.write('fmt ', 12, 'ascii');
    buf.writeUInt32LE(16, 16);
    buf.writeUInt16LE(1, 20); // PCM
    buf.writeUInt16LE(2, 22); // channels
    buf.writeUInt32LE(this.sampleRate, 24);
    buf.writeUInt32LE(this.sampleRate * 4, 28);
    buf.writeUInt16LE(4, 32);
    buf.writeUInt16LE(16, 34);
    buf.write('data', 36, 'ascii');
    buf.writeUInt32LE(dataBytes, 40);
    let o = 44;
    for (let i = 0; i < frames; i++) {
      buf.writeInt16LE(this.caller.at(i), o);
      buf.writeInt16LE(this.agent.at(i), o + 2);
      o += 4;
    }
    return buf;
  }

  async save(dir: string, name: string): Promise<string> {
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `${name}.wav`);
    await writeFile(file, this.toWav());
    return file;
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
