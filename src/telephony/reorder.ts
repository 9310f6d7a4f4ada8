/**
 * A small reorder buffer for platforms that do not guarantee frame order (Telnyx says so outright): frames are
 * released in `chunk` order; up to `depth` frames are held while one is missing, after which the missing one is
 * given up (the leg counts it as a gap) and delivery goes on. A frame older than what was already released is
 * dropped. Held frames are copied into slots allocated once.
 */
export class Reorderer {
  private expected = -1;
  private readonly seqs: Int32Array;
  private readonly slots: Uint8Array[] = [];
  private readonly lens: Int32Array;
  private held = 0;
  /** Frames that arrived too late to be played in order. */
  late = 0;

  constructor(
    private readonly depth: number,
    private readonly emit: (bytes: Uint8Array) => void,
  ) {
    this.seqs = new Int32Array(depth).fill(-1);
    this.lens = new Int32Array(depth);
  }

  push(chunk: number, bytes: Uint8Array): void {
    if (chunk < 0) {
      this.emit(bytes);
      return;
    }
    if (this.expected < 0) this.expected = chunk;
    if (chunk < this.expected) {
      this.late++;
      return;
    }
    if (chunk === this.expected) {
      this.emit(bytes);
      this.expected++;
      this.drain();
      return;
    }
    if (this.held === this.depth) {
      // Full: give up on the missing frame(s) and release from the oldest held one.
      this.expected = this.oldestHeld();
      this.drain();
      if (chunk === this.expected) {
        this.emit(bytes);
        this.expected++;
        this.drain();
        return;
      }
    }
    this.hold(chunk, bytes);
  }

  private hold(chunk: number, bytes: Uint8Array): void {
    for (let i = 0; i < this.depth; i++) {
      if (this.seqs[i] === chunk) return; // duplicate
    }
    for (let i = 0; i < this.depth; i++) {
      if (this.seqs[i] !== -1) continue;
      let slot = this.slots[i];
      if (!slot || slot.length < bytes.length) {
        slot = new Uint8Array(Math.max(bytes.length, 640));
        this.slots[i] = slot;
      }
      slot.set(bytes);
      this.seqs[i] = chunk;
      this.lens[i] = bytes.length;
      this.held++;
      return;
    }
  }

  private oldestHeld(): number {
    let min = -1;
    for (let i = 0; i < this.depth; i++) {
      const s = this.seqs[i]!;
      if (s !== -1 && (min === -1 || s < min)) min = s;
    }
    return min;
  }

  private drain(): void {
    let found = true;
    while (found && this.held > 0) {
      found = false;
      for (let i = 0; i < this.depth; i++) {
        if (this.seqs[i] !== this.expected) continue;
        this.seqs[i] = -1;
        this.held--;
        this.emit(this.slots[i]!.subarray(0, this.lens[i]));
        this.expected++;
        found = true;
        break;
      }
    }
  }
}
