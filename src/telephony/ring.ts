/**
 * A bounded FIFO of bytes over one Uint8Array (STYLE.md 6: every queue has a bound). Grows by doubling up to
 * `maxBytes`, so a call that never plays anything costs nothing, and a long utterance costs one allocation.
 */
export class ByteRing {
  private buf: Uint8Array;
  private head = 0;
  private size = 0;
  readonly maxBytes: number;

  constructor(maxBytes: number, initialBytes = 4096) {
    this.maxBytes = maxBytes;
    this.buf = new Uint8Array(Math.min(initialBytes, maxBytes));
  }

  get length(): number {
    return this.size;
  }

  /** Appends as much of `src` as fits under maxBytes; returns the number of bytes written. */
  write(src: Uint8Array): number {
    const n = Math.min(src.length, this.maxBytes - this.size);
    if (n <= 0) return 0;
    if (this.size + n > this.buf.length) this.grow(this.size + n);
    const cap = this.buf.length;
    const tail = (this.head + this.size) % cap;
    const first = Math.min(n, cap - tail);
    this.buf.set(src.subarray(0, first), tail);
    if (first < n) this.buf.set(src.subarray(first, n), 0);
    this.size += n;
    return n;
  }

  /** Moves `n` bytes (n <= length) into dst at offset 0. */
  read(dst: Uint8Array, n: number): void {
    const cap = this.buf.length;
    const first = Math.min(n, cap - this.head);
    dst.set(this.buf.subarray(this.head, this.head + first), 0);
    if (first < n) dst.set(this.buf.subarray(0, n - first), first);
    this.head = (this.head + n) % cap;
    this.size -= n;
    if (this.size === 0) this.head = 0;
  }

  clear(): void {
    this.head = 0;
    this.size = 0;
  }

  private grow(need: number): void {
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    cap = Math.min(cap, this.maxBytes);
    const next = new Uint8Array(cap);
    const n = this.size;
    const first = Math.min(n, this.buf.length - this.head);
    next.set(this.buf.subarray(this.head, this.head + first), 0);
    if (first < n) next.set(this.buf.subarray(0, n - first), first);
    this.buf = next;
    this.head = 0;
  }
}
