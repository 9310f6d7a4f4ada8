import type { Assistant } from '../assistant.js';
import type { Logger } from '../log.js';

/**
 * Live assistant changes (DESIGN.md 9) for one call. Two ways a newer version arrives, both through `check()`:
 *  - notification: a runtime PATCH on this engine (or relayed from another engine's API over the control channel)
 *    calls CallSession.assistantChanged() at once;
 *  - polling: after each caller turn the store's version is checked (a change whose notification was lost).
 * A newer assistant is applied as soon as it is loaded: settings from the caller's next utterance, the TTS voice
 * from the agent's next clause, the prompt and LLM from the next reply (the one in flight keeps what it started with).
 */
export class LiveConfig {
  private readonly load: (() => Promise<Assistant | undefined>) | undefined;
  private readonly logger: Logger;
  private readonly callId: string;
  private readonly apply: (a: Assistant) => void;
  /** Loads in flight: one at a time, a notification during one checks again after it. */
  private loading: Promise<void> | undefined;
  private again = false;

  constructor(
    load: (() => Promise<Assistant | undefined>) | undefined,
    logger: Logger,
    callId: string,
    apply: (a: Assistant) => void,
  ) {
    this.load = load;
    this.logger = logger;
    this.callId = callId;
    this.apply = apply;
  }

  /** Look for a version newer than the one the call runs (in the background) and apply it when found. */
  check(version: () => number): Promise<void> {
    if (!this.load) return Promise.resolve();
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = this.load()
      .then(
        (a) => {
          if (a && a.version !== version()) this.apply(a);
        },
        (err: unknown) =>
          this.logger.warn({ err: (err as Error).message, callId: this.callId }, 'live config load failed'),
      )
      .finally(() => {
        this.loading = undefined;
        if (this.again) {
          this.again = false;
          void this.check(version);
        }
      });
    return this.loading;
  }
}
