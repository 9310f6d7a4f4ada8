import type { Logger } from '../log.js';
import type { Store, WebhookEventType } from '../store/index.js';
import { sendSmsTool } from '../tools/send-sms.js';
import type { ToolRegistry } from '../tools/types.js';
import type { MessageStatusHook } from './simulated.js';
import { createSmsSender, type SmsSender } from './sms.js';
import type { TextAgentDeps } from './text-agent.js';
import { createWhatsAppSender, type WhatsAppSender } from './whatsapp.js';
import { createWhatsAppInbound, type WhatsAppInbound } from './whatsapp-inbound.js';

export interface Messaging {
  sms: SmsSender;
  whatsapp: WhatsAppSender;
  whatsappInbound: WhatsAppInbound;
}

/**
 * The messaging channels of the engine, wired once (the composition root calls this): SMS and WhatsApp senders
 * through the tenant's accounts (the simulated carrier for test-mode tenants, whose messages then move
 * queued -> sent -> delivered on their own), the `send_sms` tool, and the WhatsApp webhook's answering agent.
 */
export function createMessaging(opts: {
  store: Store;
  fetch: typeof fetch;
  logger: Logger;
  tools: ToolRegistry;
  webhooks: { enqueue(tenantId: string, type: WebhookEventType, payload: Record<string, unknown>): Promise<void> };
  agent: Omit<TextAgentDeps, 'tools' | 'logger'>;
}): Messaging {
  const { store, webhooks } = opts;
  const simulatedStatus: MessageStatusHook = async (tenantId, channel, messageId, status) => {
    const m = await store.messages.setStatus(tenantId, channel, messageId, status);
    if (m && channel === 'whatsapp') {
      await webhooks.enqueue(tenantId, 'whatsapp.message', {
        direction: 'outbound',
        channel,
        to: m.contact,
        message_id: messageId,
        status,
      });
    }
  };
  const sms = createSmsSender({ store, fetch: opts.fetch, onSimulatedStatus: simulatedStatus });
  // The agent texts whoever it is talking with through the tenant's account, like POST /api/v1/sms/send.
  opts.tools.register(sendSmsTool({ sms, store }));
  const whatsapp = createWhatsAppSender({ store, fetch: opts.fetch, onSimulatedStatus: simulatedStatus });
  // WhatsApp chats are answered by the same assistants (LLM, tools, knowledge) outside any call.
  const whatsappInbound = createWhatsAppInbound({
    store,
    sender: whatsapp,
    logger: opts.logger,
    webhooks,
    agent: { ...opts.agent, tools: opts.tools, logger: opts.logger },
  });
  return { sms, whatsapp, whatsappInbound };
}
