import type { AssistantConfig } from '../assistant.js';
import type { MediaLeg, TransferMode } from '../telephony/leg.js';
import type { CallTools, ToolContext } from '../tools/types.js';
import type { SessionDeps } from './deps.js';

/**
 * The tools of one call: opened in the background when the call starts (MCP servers may take a while), awaited by
 * the first reply that needs them, closed with the call. `context()` is what a tool may do to the call: end it or
 * transfer it once the reply has played (the ending owns both), send DTMF, search the knowledge base.
 */
export interface ToolActions {
  endCall(reason: string): void;
  transfer(target: string, mode: TransferMode, summary: string | undefined): void;
  /** Speak `text` in the reply in progress; `hold`: uninterruptible until heard. */
  say(text: string, hold: boolean): void;
}

export class CallToolbox {
  private tools: CallTools | undefined;
  private ready: Promise<void> | undefined;
  readonly calls: { name: string; ok: boolean }[] = [];
  private readonly deps: SessionDeps;
  private readonly leg: MediaLeg;
  private readonly actions: ToolActions;

  constructor(deps: SessionDeps, leg: MediaLeg, actions: ToolActions) {
    this.deps = deps;
    this.leg = leg;
    this.actions = actions;
  }

  open(config: AssistantConfig): void {
    this.ready = (async () => {
      this.tools = await this.deps.tools.forCall(config, this.deps.logger, (what, err) =>
        this.deps.sink.event('incident', {
          kind: 'tool',
          provider: what,
          message: (err as Error)?.message ?? String(err),
        }),
      );
    })();
  }

  async get(): Promise<CallTools | undefined> {
    await this.ready;
    return this.tools;
  }

  record(name: string, ok: boolean): void {
    this.calls.push({ name, ok });
  }

  context(signal: AbortSignal, config: AssistantConfig): ToolContext {
    const r = this.deps.retriever;
    return {
      callId: this.leg.info.callId,
      ...this.deps.toolScope,
      signal,
      logger: this.deps.logger,
      endCall: (reason) => this.actions.endCall(reason),
      transfer: (target, mode, summary) => this.actions.transfer(target, mode, summary),
      sendDtmf: (digits) => this.leg.sendDtmf(digits),
      say: (text, opts) => this.actions.say(text, opts?.uninterruptible === true),
      search: r ? (q) => r.search(q) : undefined,
      transferTargets: config.hangup?.transferTargets ?? [],
    };
  }

  close(): void {
    void this.ready?.then(() => this.tools?.close()).catch(() => undefined);
  }
}
