/**
 * An in-memory MediaLeg for session tests without sockets: inbound audio is fed by the test (20 ms mu-law frames,
 * paced in real time), outbound audio "plays" on a playout clock (one 20 ms interval while audio is queued), marks
 * echo when the audio before them has played, clear() drops the queue and resolves pending marks played=false.
 * Everything the session does to the leg is logged in `out` for assertions.
 */
import { type AudioChunk, type AudioFormat, bytesPerSample, MULAW_8K } from '../../src/audio/format.js';
import { linearToMulaw, mulawDecode } from '../../src/audio/g711.js';
import type {
  CallStartInfo,
  ControlResult,
  LegOutboundEvent,
  LegStats,
  MediaLeg,
  MediaLegHandler,
  TransferMode,
} from '../../src/telephony/leg.js';

export type OutEvent =
  | { type: 'play'; samples: number; at: number }
  | { type: 'mark'; name: string; at: number }
  | { type: 'clear'; at: number }
  | { type: 'hangup'; reason: string; at: number }
  | { type: 'transfer'; target: string; mode: TransferMode; summary?: string; at: number }
  | { type: 'dtmf'; digits: string; at: number }
  | { type: 'event'; event: LegOutboundEvent; at: number };

type QItem = { samples: number } | { mark: string };

export class FakeLeg implements MediaLeg {
  readonly info: CallStartInfo;
  handler: MediaLegHandler | undefined;
  readonly out: OutEvent[] = [];
  playedSamples = 0;
  private queue: QItem[] = [];
  private timer: NodeJS.Timeout | undefined;
  closed = false;
  readonly stats: LegStats = { framesIn: 0, framesOut: 0, malformed: 0, gaps: 0, dropped: 0 };
  private readonly frame = new Uint8Array(160);
  private readonly pcm = new Int16Array(160);

  constructor(info: Partial<CallStartInfo> = {}) {
    this.info = {
      protocol: 'fake',
      callId: `fake-${Math.random().toString(36).slice(2, 10)}`,
      customParameters: {},
      inboundFormat: MULAW_8K,
      outboundFormat: MULAW_8K,
      dtmfEvents: true,
      marks: true,
      ...info,
    };
  }

  setHandler(h: MediaLegHandler): void {
    this.handler = h;
  }

  get pendingSamples(): number {
    let n = 0;
    for (const q of this.queue) if ('samples' in q) n += q.samples;
    return n;
  }

  play(chunk: AudioChunk): void {
    if (this.closed) return;
    const samples = Math.round(
      (chunk.data.byteLength / bytesPerSample(chunk.format)) *
        (this.info.outboundFormat.sampleRate / chunk.format.sampleRate),
    );
    this.queue.push({ samples });
    this.out.push({ type: 'play', samples, at: performance.now() });
    this.run();
  }

  mark(name: string): void {
    if (this.closed) return;
    this.out.push({ type: 'mark', name, at: performance.now() });
    this.queue.push({ mark: name });
    this.run();
  }

  clear(): void {
    this.out.push({ type: 'clear', at: performance.now() });
    const marks = this.queue.filter((q): q is { mark: string } => 'mark' in q);
    this.queue = [];
    for (const m of marks) this.handler?.onMark(m.mark, false);
  }

  sendDtmf(digits: string): ControlResult {
    this.out.push({ type: 'dtmf', digits, at: performance.now() });
    return 'done';
  }

  sendEvent(event: LegOutboundEvent): void {
    this.out.push({ type: 'event', event, at: performance.now() });
  }

  async hangup(reason: string): Promise<ControlResult> {
    if (this.closed) return 'already-ended';
    this.out.push({ type: 'hangup', reason, at: performance.now() });
    this.stop('hangup');
    return 'done';
  }

  async transfer(target: string, mode: TransferMode, summary?: string): Promise<ControlResult> {
    this.out.push({ type: 'transfer', target, mode, summary, at: performance.now() });
    this.stop('transfer');
    return 'done';
  }

  /** The caller hangs up / the platform stops the stream. */
  stop(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.handler?.onStop(reason);
  }

  /** Playout: one tick per 20 ms consumes 20 ms of queued audio and echoes the marks reached. */
  private run(): void {
    if (this.timer || this.closed) return;
    this.drainMarks();
    if (this.queue.length === 0) return;
    const perTick = (this.info.outboundFormat.sampleRate * 20) / 1000;
    this.timer = setInterval(() => {
      let budget = perTick;
      while (budget > 0 && this.queue.length) {
        const q = this.queue[0]!;
        if ('mark' in q) {
          this.queue.shift();
          this.handler?.onMark(q.mark, true);
          continue;
        }
        const n = Math.min(budget, q.samples);
        q.samples -= n;
        budget -= n;
        this.playedSamples += n;
        if (q.samples === 0) this.queue.shift();
      }
      this.drainMarks();
      if (this.queue.length === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
        this.handler?.onPlaybackIdle?.();
      }
    }, 20);
  }

  private drainMarks(): void {
    while (this.queue.length && 'mark' in this.queue[0]!) {
      const q = this.queue.shift() as { mark: string };
      this.handler?.onMark(q.mark, true);
    }
  }

  /** One 20 ms inbound frame of mu-law. */
  feedFrame(wire: Uint8Array): void {
    if (this.closed) return;
    this.stats.framesIn++;
    mulawDecode(wire, this.pcm);
    this.handler?.onAudio(this.pcm, wire);
  }

  /** Caller audio: `ms` of speech-like noise (loud) or silence, paced in real time. */
  async caller(kind: 'speech' | 'silence', ms: number): Promise<void> {
    const frames = Math.round(ms / 20);
    const start = performance.now();
    for (let i = 0; i < frames; i++) {
      if (this.closed) return;
      fillFrame(this.frame, kind === 'speech');
      this.feedFrame(this.frame);
      const due = start + (i + 1) * 20;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** The caller presses a key (protocol DTMF event). */
  dtmf(digit: string): void {
    this.handler?.onDtmf(digit, 'protocol', 100);
  }

  count(type: OutEvent['type']): number {
    return this.out.filter((e) => e.type === type).length;
  }
}

let seed = 12345;
function rnd(): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
}

/** Speech-like: noise at about -20 dBFS; silence: mu-law zero. */
export function fillFrame(frame: Uint8Array, speech: boolean): void {
  for (let i = 0; i < frame.length; i++) frame[i] = speech ? linearToMulaw(Math.round((rnd() * 2 - 1) * 5000)) : 0xff;
}

export const FORMAT: AudioFormat = MULAW_8K;
