import type { AssistantConfig } from '../assistant.js';
import type { Logger } from '../log.js';
import type { KnowledgeHit, ToolSpec } from '../providers/types.js';
import type { TransferMode } from '../telephony/leg.js';

/**
 * Tools the LLM may call during a call. A tool gets JSON arguments and a context with the call actions it may take;
 * it answers with text for the model. Call control (hang up, transfer) is requested through the context and carried
 * out by the session after the current utterance, so the caller hears the goodbye first.
 */
export interface ToolContext {
  callId: string;
  /** The tenant the call or chat belongs to (tools that act on the tenant's accounts, e.g. send_sms). */
  tenantId?: string;
  /** The other party's number (E.164 when known): the caller, the called number, the chat contact. */
  party?: string;
  /** The assistant running the call or chat (ag_…). */
  assistantId?: string;
  /** Our call record id (c_…) when `callId` is the carrier's. */
  callRecordId?: string;
  signal: AbortSignal;
  logger: Logger;
  endCall(reason: string): void;
  transfer(target: string, mode: TransferMode, summary?: string): void;
  sendDtmf(digits: string): void;
  /** Speak `text` verbatim in the reply in progress (e.g. a legal disclosure); uninterruptible when asked. */
  say?(text: string, opts?: { uninterruptible?: boolean }): void;
  search?(query: string): Promise<KnowledgeHit[]>;
  /** Who the assistant may transfer to (hangup.transferTargets). */
  transferTargets: readonly { name: string; number: string; description?: string }[];
}

export interface ToolResult {
  /** Text (often JSON) handed back to the model. */
  content: string;
  ok: boolean;
}

export interface Tool {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the arguments object. */
  readonly parameters: Record<string, unknown>;
  /** Spoken while the call waits for a slow result (settings.fillerAfterMs). */
  readonly filler?: string;
  run(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult>;
}

/** One entry of the tool catalog the API shows. */
export interface ToolCatalogEntry extends ToolSpec {
  kind: 'builtin' | 'http' | 'mcp';
}

/** The tools of one call: built-ins enabled for the assistant, its HTTP tools and its MCP servers' tools. */
export interface CallTools {
  specs(): ToolSpec[];
  get(name: string): Tool | undefined;
  close(): Promise<void>;
}

export interface ToolRegistry {
  register(tool: Tool): void;
  /** Every built-in tool, for the API. */
  catalog(): ToolCatalogEntry[];
  /** Build the tool set of one call (connects MCP servers; never throws: failures are logged and skipped). */
  forCall(config: AssistantConfig, logger: Logger, onIssue?: (what: string, err: unknown) => void): Promise<CallTools>;
}
