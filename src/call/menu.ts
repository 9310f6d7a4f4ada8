import type { CallTools, ToolContext } from '../tools/types.js';
import type { Conversation } from './conversation.js';
import type { CallEventType } from './deps.js';
import type { MenuAction } from './dtmf-input.js';
import { PHRASES } from './phrases.js';

/**
 * A DTMF menu key (assistant dtmf.menu): a caller turn of its own, then the key's action: hang up (after the
 * reply), transfer (cold, after the reply), run a tool then say the reply, or only say the reply.
 */
export interface MenuHost {
  readonly conversation: Conversation;
  event(type: CallEventType, data: Record<string, unknown>): void;
  end(reason: string, goodbye?: string): Promise<void>;
  /** A cold transfer, carried out once what is being said has played. */
  transfer(target: string): void;
  /** Say a fixed text as an agent turn, then do what is pending (nothing to say: only that). */
  speak(text: string | undefined): void;
  callTools(): Promise<CallTools | undefined>;
  toolContext(signal: AbortSignal): ToolContext;
  recordTool(name: string, ok: boolean): void;
}

export async function runMenuAction(h: MenuHost, digit: string, action: MenuAction): Promise<void> {
  h.conversation.userTurn(`DTMF: ${digit}`);
  const turn = h.conversation.turn;
  h.event('dtmf', { digit, menu: true, action, turn });
  if (action.hangup) {
    await h.end('dtmf_menu', action.reply);
    return;
  }
  if (action.transferTo) {
    h.transfer(action.transferTo);
    h.speak(action.reply ?? PHRASES.transferring);
    return;
  }
  if (!action.tool) {
    if (action.reply) h.speak(action.reply);
    return;
  }
  const tools = await h.callTools();
  const tool = tools?.get(action.tool);
  if (!tool) {
    h.event('tool', { name: action.tool, ok: false, error: 'unknown tool', turn, source: 'dtmf' });
    if (action.reply) h.speak(action.reply);
    return;
  }
  const ac = new AbortController();
  const started = performance.now();
  const res = await tool.run(action.toolArgs ?? {}, h.toolContext(ac.signal));
  h.recordTool(tool.name, res.ok);
  h.event('tool', {
    name: tool.name,
    arguments: action.toolArgs ?? {},
    ok: res.ok,
    result: res.content.slice(0, 2000),
    bytes: Buffer.byteLength(res.content),
    ms: Math.round(performance.now() - started),
    turn,
    source: 'dtmf',
  });
  h.speak(action.reply);
}
