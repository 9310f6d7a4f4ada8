import type { SmsSender } from '../channels/sms.js';
import type { Store } from '../store/index.js';
import type { Tool } from './types.js';

const MAX_CHARS = 1600;
const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * `send_sms`: the agent texts the person it is talking to (the caller, the called number, the chat contact) through
 * the tenant's own messaging account, the same Twilio / Telnyx path as POST /api/v1/sms/send (test-mode tenants get
 * the simulated carrier there). Only that party: a model steered by what it hears must not text arbitrary numbers.
 * Each send is an analytics/sms row (source `tool`) and a message of the contact's SMS conversation.
 */
export function sendSmsTool(deps: { sms: SmsSender; store: Pick<Store, 'analytics' | 'messages'> }): Tool {
  const fail = (error: string) => ({ ok: false, content: JSON.stringify({ error }) });
  return {
    name: 'send_sms',
    description:
      'Send a text message (SMS) to the person you are talking with, e.g. a confirmation, an address or a link they asked for.',
    parameters: {
      type: 'object',
      properties: { message: { type: 'string', description: 'The text to send (short, plain text)' } },
      required: ['message'],
    },
    filler: 'One moment, I am sending you a text.',
    async run(args, ctx) {
      const message = typeof args.message === 'string' ? args.message.trim() : '';
      if (!message) return fail('message is required');
      if (message.length > MAX_CHARS) return fail(`message is longer than ${MAX_CHARS} characters`);
      if (!ctx.tenantId) return fail('SMS is not available here');
      const to = ctx.party;
      if (!to || !E164.test(to)) return fail('the number of the person you are talking with is not known');
      try {
        const r = await deps.sms.send({ tenantId: ctx.tenantId, to, text: message });
        await deps.store.analytics.record(ctx.tenantId, 'sms', {
          direction: 'outbound',
          channel: 'sms',
          provider: r.provider,
          assistant_id: ctx.assistantId ?? null,
          call_id: ctx.callRecordId ?? ctx.callId,
          to,
          from: r.from,
          message_id: r.providerMessageId,
          status: r.status,
          chars: message.length,
          source: 'tool',
          ...(r.provider === 'simulated' ? { test: true } : {}),
        });
        await deps.store.messages.add({
          tenantId: ctx.tenantId,
          channel: 'sms',
          contact: to,
          direction: 'outbound',
          ...(ctx.assistantId ? { assistantId: ctx.assistantId } : {}),
          body: message,
          ...(r.providerMessageId ? { providerMessageId: r.providerMessageId } : {}),
          status: r.status,
        });
        return { ok: true, content: JSON.stringify({ status: 'sent', to, message_id: r.providerMessageId }) };
      } catch (err) {
        ctx.logger.warn({ err: (err as Error).message, tool: 'send_sms' }, 'SMS not sent');
        return fail((err as Error).message);
      }
    },
  };
}
