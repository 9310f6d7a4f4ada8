/**
 * ONE clock for the outbound audio of every call (STYLE.md 9; undici's shared timer wheel): a single timer ticks
 * every `tickMs` and asks each registered leg to send the frames that are due, so that each leg stays at most its
 * lead ahead of real time. No timer per call, none per frame. The timer runs only while some leg is registered.
 * The clock is injectable: tests drive `tick()` by hand with a simulated time (no timing assertions).
 */
export interface Paced {
  /** Send what is due at `nowMs` (ms on the pacer's clock). */
  pump(nowMs: number): void;
}

export interface PacerOptions {
  /** ms between ticks (default 10: half a 20 ms frame, so a frame is never late by more than the tick). */
  tickMs?: number;
  /** ms, monotonic. Default performance.now(). */
  now?: () => number;
  /** false: never start a timer; the owner calls tick() (tests, simulations). */
  autoStart?: boolean;
  /** Called on every timer tick with its lateness vs schedule, ms (the pacer-lag histogram). Keep it cheap. */
  onTickLate?: (lateMs: number) => void;
}

export class Pacer {
  private readonly legs = new Set<Paced>();
  private timer: NodeJS.Timeout | undefined;
  private readonly tickMs: number;
  private readonly autoStart: boolean;
  readonly now: () => number;
  /** Ticks run so far, and the worst lateness of a tick vs its schedule (ms): event-loop health. */
  ticks = 0;
  maxTickLateMs = 0;
  private lastTick = 0;
  private readonly onTickLate: ((lateMs: number) => void) | undefined;

  constructor(opts: PacerOptions = {}) {
    this.tickMs = opts.tickMs ?? 10;
    this.now = opts.now ?? (() => performance.now());
    this.autoStart = opts.autoStart ?? true;
    this.onTickLate = opts.onTickLate;
  }

  get size(): number {
    return this.legs.size;
  }

  add(leg: Paced): void {
    this.legs.add(leg);
    if (this.autoStart && !this.timer) {
      this.lastTick = this.now();
      this.timer = setInterval(this.onTimer, this.tickMs);
      this.timer.unref();
    }
  }

  remove(leg: Paced): void {
    this.legs.delete(leg);
    if (this.legs.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Runs one tick at the current clock time. */
  tick(): void {
    const now = this.now();
    this.ticks++;
    for (const leg of this.legs) leg.pump(now);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.legs.clear();
  }

  private readonly onTimer = (): void => {
    const now = this.now();
    const late = now - this.lastTick - this.tickMs;
    if (late > this.maxTickLateMs) this.maxTickLateMs = late;
    this.onTickLate?.(late);
    this.lastTick = now;
    this.tick();
  };
}
