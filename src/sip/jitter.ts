/**
 * Inbound jitter buffer for one RTP stream of G.711 frames: packets are slotted by sequence number (reordering
 * within the window), played out on the shared pacer's clock `depthMs` after the first one, and a missing frame at
 * its playout time is concealed: the previous frame once (short losses are inaudible that way), then silence.
 * After `idleFrames` missing frames in a row with nothing buffered (the far end stopped sending: hold, DTMF-only,
 * a dead peer) playout stops, and the next packet starts it again with a fresh depth. Late packets and packets
 * beyond the window (a sender restart) are counted; the latter resynchronise. Each late packet delays playout by
 * one frame, up to `maxExtraMs` more than the initial depth: the buffer grows to the jitter it actually sees.
 *
 *   push(seq, payload) ──▶ [slot seq % N] ──pump(now)──▶ onFrame(payload | concealment)
 *
 * Slots are allocated once per stream; onFrame receives views valid during the call.
 */
export interface JitterStats {
  played: number;
  concealed: number;
  late: number;
  duplicates: number;
  resyncs: number;
}

const SLOTS = 32;
const MAX_PAYLOAD = 480; // 60 ms of G.711 at 8 kHz

export class JitterBuffer {
  readonly stats: JitterStats = { played: 0, concealed: 0, late: 0, duplicates: 0, resyncs: 0 };
  private readonly slots: Uint8Array[] = [];
  private readonly lens = new Int32Array(SLOTS);
  private readonly seqs = new Int32Array(SLOTS).fill(-1);
  private readonly last = new Uint8Array(MAX_PAYLOAD);
  private lastLen = 160;
  private readonly silence: Uint8Array;
  private running = false;
  private playSeq = 0;
  private nextDue = 0;
  private missing = 0;
  private buffered = 0;
  /** ms added to depthMs by late packets. */
  private extraMs = 0;

  constructor(
    private readonly onFrame: (payload: Uint8Array) => void,
    silenceByte: number,
    private readonly depthMs = 60,
    private readonly idleFrames = 10,
    private readonly maxExtraMs = 140,
  ) {
    for (let i = 0; i < SLOTS; i++) this.slots.push(new Uint8Array(MAX_PAYLOAD));
    this.silence = new Uint8Array(MAX_PAYLOAD).fill(silenceByte);
  }

  /** The codec's silence (an outbound call learns its codec from the answer). */
  setSilence(byte: number): void {
    this.silence.fill(byte);
  }

  push(seq: number, payload: Uint8Array, now: number): void {
    if (payload.length === 0 || payload.length > MAX_PAYLOAD) return;
    if (!this.running) {
      this.running = true;
      this.playSeq = seq;
      this.nextDue = now + this.depthMs + this.extraMs;
      this.missing = 0;
    }
    const d = (((seq - this.playSeq) & 0xffff) << 16) >> 16; // signed 16-bit distance
    if (d < 0) {
      // Late: its frame was concealed already. Adapt: play out one frame later from now on (up to maxDepthMs),
      // so that a sender (or our own event loop) this jittery stops losing frames.
      this.stats.late++;
      if (this.extraMs + 20 <= this.maxExtraMs) {
        this.extraMs += 20;
        this.nextDue += 20;
      }
      return;
    }
    if (d >= SLOTS) {
      // Far ahead of the playout point: the sender restarted or jumped; start over from this packet.
      this.stats.resyncs++;
      this.seqs.fill(-1);
      this.buffered = 0;
      this.playSeq = seq;
      this.nextDue = now + this.depthMs;
    }
    const i = seq % SLOTS;
    if (this.seqs[i] === seq) {
      this.stats.duplicates++;
      return;
    }
    if (this.seqs[i] === -1) this.buffered++;
    this.seqs[i] = seq;
    this.slots[i]!.set(payload);
    this.lens[i] = payload.length;
  }

  /** Plays out every frame due at `now` (ms, the pacer's clock). */
  pump(now: number): void {
    while (this.running && now >= this.nextDue) {
      const i = this.playSeq % SLOTS;
      let len: number;
      if (this.seqs[i] === this.playSeq) {
        len = this.lens[i]!;
        const frame = this.slots[i]!.subarray(0, len);
        this.seqs[i] = -1;
        this.buffered--;
        this.missing = 0;
        this.last.set(frame);
        this.lastLen = len;
        this.stats.played++;
        this.onFrame(frame);
      } else {
        this.missing++;
        if (this.buffered === 0 && this.missing > this.idleFrames) {
          this.running = false;
          return;
        }
        len = this.lastLen;
        this.stats.concealed++;
        this.onFrame(this.missing <= 1 ? this.last.subarray(0, len) : this.silence.subarray(0, len));
      }
      this.playSeq = (this.playSeq + 1) & 0xffff;
      this.nextDue += len / 8; // G.711: 8 samples per ms
    }
  }
}
