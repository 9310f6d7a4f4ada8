import type { Tool, ToolContext, ToolResult } from './types.js';

/** The built-in tools (issue 6, deliverable 5). Names are stable: assistants enable them in tools.builtins. */

const ok = (content: unknown): ToolResult => ({
  ok: true,
  content: typeof content === 'string' ? content : JSON.stringify(content),
});
const fail = (message: string): ToolResult => ({ ok: false, content: JSON.stringify({ error: message }) });

export const endCallTool: Tool = {
  name: 'end_call',
  description: 'End the call. Use after saying goodbye, when the caller is done or asks to hang up.',
  parameters: {
    type: 'object',
    properties: { reason: { type: 'string', description: 'Why the call ends' } },
  },
  async run(args, ctx) {
    ctx.endCall(typeof args.reason === 'string' && args.reason ? args.reason : 'end_call');
    return ok({ status: 'ending' });
  },
};

function resolveTarget(target: string, ctx: ToolContext): string | undefined {
  const t = target.trim();
  const named = ctx.transferTargets.find((x) => x.name.toLowerCase() === t.toLowerCase() || x.number === t);
  if (named) return named.number;
  // Only configured targets when some are configured: the model must not dial arbitrary numbers.
  if (ctx.transferTargets.length > 0) return undefined;
  return /^(\+?[0-9]{3,15}|sip:.+|tel:.+)$/.test(t) ? t : undefined;
}

export const transferCallTool: Tool = {
  name: 'transfer_call',
  description:
    'Transfer the caller to a person or department. Cold transfer hands the call over; warm transfer first tells the target a short summary.',
  parameters: {
    type: 'object',
    properties: {
      target: { type: 'string', description: 'The transfer target name or number' },
      mode: { type: 'string', enum: ['cold', 'warm'] },
      summary: { type: 'string', description: 'For a warm transfer: what to tell the person taking the call' },
    },
    required: ['target'],
  },
  async run(args, ctx) {
    const target = typeof args.target === 'string' ? resolveTarget(args.target, ctx) : undefined;
    if (!target) {
      const names = ctx.transferTargets.map((t) => t.name);
      return fail(`unknown transfer target${names.length ? `; choose one of: ${names.join(', ')}` : ''}`);
    }
    const mode = args.mode === 'warm' ? 'warm' : 'cold';
    ctx.transfer(target, mode, typeof args.summary === 'string' ? args.summary : undefined);
    return ok({ status: 'transferring', target, mode });
  },
};

export const sendDtmfTool: Tool = {
  name: 'send_dtmf',
  description: 'Send DTMF key presses to the far end (for navigating a phone menu).',
  parameters: {
    type: 'object',
    properties: {
      digits: { type: 'string', pattern: '^[0-9*#A-Da-dwW]+$', description: 'Keys to press, e.g. "1" or "1234#"' },
    },
    required: ['digits'],
  },
  async run(args, ctx) {
    const digits = typeof args.digits === 'string' ? args.digits.toUpperCase() : '';
    if (!/^[0-9*#A-DW]{1,64}$/.test(digits)) return fail('digits must be 0-9, *, #, A-D');
    ctx.sendDtmf(digits);
    return ok({ status: 'sent', digits });
  },
};

export const searchKnowledgeTool: Tool = {
  name: 'search_knowledge',
  description: "Search the assistant's knowledge base and return the most relevant passages.",
  parameters: {
    type: 'object',
    properties: { query: { type: 'string', description: 'What to look up' } },
    required: ['query'],
  },
  async run(args, ctx) {
    if (!ctx.search) return fail('no knowledge base is configured for this assistant');
    const q = typeof args.query === 'string' ? args.query.trim() : '';
    if (!q) return fail('query is required');
    const hits = await ctx.search(q);
    return ok({ results: hits.map((h) => ({ text: h.text, score: Number(h.score.toFixed(4)), source: h.source })) });
  },
};

export const BUILTIN_TOOLS: readonly Tool[] = [endCallTool, transferCallTool, sendDtmfTool, searchKnowledgeTool];

/** Built-ins enabled when an assistant does not list them: hanging up, and transfer when it has targets. */
export function defaultBuiltins(hasTransferTargets: boolean, hasKnowledge: boolean): string[] {
  const names = ['end_call'];
  if (hasTransferTargets) names.push('transfer_call');
  if (hasKnowledge) names.push('search_knowledge');
  return names;
}
