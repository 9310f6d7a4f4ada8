import type { Assistant } from '../assistant.js';
import type { Logger } from '../log.js';

/**
 * Live assistant changes (DESIGN.md 9) for one call: the store is polled after each caller turn (deps.loadAssistant)
 * and a newer version is kept until the session takes it at the start of the next turn.
 */
export class LiveConfig {
  private pending: Assistant | undefined;
  private readonly load: (() => Promise<Assistant | undefined>) | undefined;
  private readonly logger: Logger;
  private readonly callId: string;

  constructor(load: (() => Promise<Assistant | undefined>) | undefined, logger: Logger, callId: string) {
    this.load = load;
    this.logger = logger;
    this.callId = callId;
  }

  /** Look for a version newer than `version` (in the background). */
  poll(version: number): void {
    this.load?.().then(
      (a) => {
        if (a && a.version !== version) this.pending = a;
      },
      (err: unknown) =>
        this.logger.warn({ err: (err as Error).message, callId: this.callId }, 'live config poll failed'),
    );
  }

  /** The newer assistant seen since the last take, if any. */
  take(): Assistant | undefined {
    const a = this.pending;
    this.pending = undefined;
    return a;
  }
}
