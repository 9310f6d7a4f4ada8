import { type Static, Type } from 'typebox';
import type { Assistant } from '../assistant.js';
import type { Logger } from '../log.js';
import type { ChatMessage } from '../providers/types.js';
import type { MessageRecord, Store, WebhookEventType } from '../store/index.js';
import { replyToText, type TextAgentDeps } from './text-agent.js';
import type { WhatsAppConfig, WhatsAppSender } from './whatsapp.js';

/**
 * Inbound WhatsApp (Cloud API webhook, field `messages`): each message is recorded once (the Cloud API message id is
 * unique per tenant in store.messages, so a webhook Meta retries is neither recorded nor answered twice), then
 * answered by the contact's assistant (the agent_id of the last send to it, else the plugin's agentId) with the
 * contact's history, that assistant's LLM, tools and knowledge. Answers run after the webhook has been acknowledged
 * (Meta wants a quick 200), one at a time per contact so replies keep their order. Delivery receipts (`statuses`)
 * update the stored message and are forwarded as `whatsapp.message` events.
 */

const Text = Type.Object({ body: Type.String() });
const InboundMessage = Type.Object({
  from: Type.String({ minLength: 1, maxLength: 32 }),
  id: Type.String({ minLength: 1, maxLength: 256 }),
  timestamp: Type.Optional(Type.String()),
  type: Type.String(),
  text: Type.Optional(Text),
  button: Type.Optional(Type.Object({ text: Type.Optional(Type.String()), payload: Type.Optional(Type.String()) })),
  interactive: Type.Optional(
    Type.Object({
      type: Type.Optional(Type.String()),
      button_reply: Type.Optional(Type.Object({ id: Type.Optional(Type.String()), title: Type.String() })),
      list_reply: Type.Optional(Type.Object({ id: Type.Optional(Type.String()), title: Type.String() })),
    }),
  ),
});
const Status = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 256 }),
  status: Type.String(),
  recipient_id: Type.Optional(Type.String()),
  timestamp: Type.Optional(Type.String()),
  errors: Type.Optional(
    Type.Array(Type.Object({ code: Type.Optional(Type.Number()), title: Type.Optional(Type.String()) })),
  ),
});
const Change = Type.Object({
  field: Type.String(),
  value: Type.Object({
    messaging_product: Type.Optional(Type.String()),
    metadata: Type.Optional(
      Type.Object({
        display_phone_number: Type.Optional(Type.String()),
        phone_number_id: Type.String(),
      }),
    ),
    contacts: Type.Optional(Type.Array(Type.Object({ wa_id: Type.Optional(Type.String()) }))),
    messages: Type.Optional(Type.Array(InboundMessage)),
    statuses: Type.Optional(Type.Array(Status)),
  }),
});
/** The webhook body (developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components). */
export const CloudWebhookSchema = Type.Object({
  object: Type.String(),
  entry: Type.Array(Type.Object({ id: Type.Optional(Type.String()), changes: Type.Array(Change) }), { maxItems: 100 }),
});
export type CloudWebhook = Static<typeof CloudWebhookSchema>;
type Inbound = Static<typeof InboundMessage>;

export interface WhatsAppInbound {
  /** Records what one verified webhook carries; the answers run in the background. */
  receive(
    tenantId: string,
    cfg: WhatsAppConfig,
    body: CloudWebhook,
  ): Promise<{ messages: number; duplicates: number; statuses: number }>;
  /** Resolves when every answer started so far is done (tests, shutdown). */
  idle(): Promise<void>;
}

export interface WhatsAppInboundOptions {
  store: Store;
  sender: WhatsAppSender;
  agent: TextAgentDeps;
  logger: Logger;
  webhooks?: { enqueue(tenantId: string, type: WebhookEventType, payload: Record<string, unknown>): Promise<void> };
  /** How many earlier messages the model sees. */
  historyLimit?: number;
}

/** What the model reads for a message that is not text. */
function bodyOf(m: Inbound): string {
  if (m.text) return m.text.body;
  if (m.button?.text) return m.button.text;
  const i = m.interactive?.button_reply ?? m.interactive?.list_reply;
  if (i) return i.title;
  return `[${m.type} message]`;
}

const plus = (waId: string) => (waId.startsWith('+') ? waId : `+${waId}`);

export function createWhatsAppInbound(opts: WhatsAppInboundOptions): WhatsAppInbound {
  const { store, logger } = opts;
  /** The tail of each contact's answer chain: answers for one contact run in order. */
  const chains = new Map<string, Promise<void>>();
  const event = (tenantId: string, payload: Record<string, unknown>) =>
    opts.webhooks?.enqueue(tenantId, 'whatsapp.message', payload).catch((err: unknown) => {
      logger.warn({ err }, 'whatsapp.message webhook not queued');
    });

  async function assistantFor(tenantId: string, cfg: WhatsAppConfig, contact: string): Promise<Assistant | undefined> {
    const id = (await store.messages.contactAssistant(tenantId, 'whatsapp', contact)) ?? cfg.agentId;
    if (!id) return undefined;
    return id.startsWith('ast_') ? store.assistants.getByKey(tenantId, id) : store.assistants.get(tenantId, id);
  }

  async function answer(tenantId: string, cfg: WhatsAppConfig, contact: string, business: string): Promise<void> {
    const log = logger.child({ tenantId, channel: 'whatsapp' });
    const assistant = await assistantFor(tenantId, cfg, contact);
    if (!assistant) {
      log.warn(
        'inbound WhatsApp message with no assistant to answer it (send with agent_id, or set the plugin agentId)',
      );
      return;
    }
    const past = await store.messages.history(tenantId, 'whatsapp', contact, opts.historyLimit ?? 20);
    const history: ChatMessage[] = past.map((m: MessageRecord) =>
      m.direction === 'inbound' ? { role: 'user', content: m.body } : { role: 'assistant', content: m.body },
    );
    const conversationId = `wa:${contact}`;
    const reply = await replyToText(opts.agent, { tenantId, assistant, history, conversationId, contact });
    for (const t of reply.tools) {
      await store.analytics.record(tenantId, 'tool', {
        call_id: null,
        conversation_id: conversationId,
        assistant_id: assistant.id,
        tool: t.name,
        status: t.ok ? 'ok' : 'error',
        error: t.error,
        latency_ms: t.ms,
        size_bytes: t.bytes,
        source: 'whatsapp',
      });
    }
    if (!reply.text) return;
    let sent: Awaited<ReturnType<WhatsAppSender['send']>> | undefined;
    let failure: string | undefined;
    try {
      sent = await opts.sender.send({
        tenantId,
        to: contact,
        content: { type: 'text', text: reply.text.slice(0, 4096) },
      });
    } catch (err) {
      failure = (err as Error).message;
      log.warn({ err: failure }, 'WhatsApp reply not sent');
    }
    await store.messages.add({
      tenantId,
      channel: 'whatsapp',
      contact,
      direction: 'outbound',
      assistantId: assistant.id,
      body: reply.text,
      ...(sent ? { providerMessageId: sent.providerMessageId } : {}),
      status: sent?.status ?? 'failed',
    });
    const row = {
      direction: 'outbound',
      channel: 'whatsapp',
      provider: sent?.provider ?? 'cloud_api',
      assistant_id: assistant.id,
      to: contact,
      from: business,
      message_id: sent?.providerMessageId ?? null,
      message_type: 'text',
      status: sent?.status ?? 'failed',
      error: failure ?? null,
      chars: reply.text.length,
      source: 'agent',
    };
    await store.analytics.record(tenantId, 'sms', row);
    await event(tenantId, { ...row, text: reply.text });
  }

  function chain(tenantId: string, contact: string, run: () => Promise<void>): void {
    const key = `${tenantId}\u0000${contact}`;
    const next = (chains.get(key) ?? Promise.resolve())
      .then(run)
      .catch((err: unknown) => logger.warn({ err, tenantId }, 'WhatsApp answer failed'))
      .finally(() => {
        if (chains.get(key) === next) chains.delete(key);
      });
    chains.set(key, next);
  }

  return {
    async receive(tenantId, cfg, body) {
      let messages = 0;
      let duplicates = 0;
      let statuses = 0;
      for (const entry of body.entry) {
        for (const change of entry.changes) {
          const v = change.value;
          // One app may serve several numbers: only the number this plugin is configured with is ours.
          if (change.field !== 'messages' || v.metadata?.phone_number_id !== cfg.phoneNumberId) continue;
          const business = v.metadata.display_phone_number ? plus(v.metadata.display_phone_number) : cfg.phoneNumberId;
          for (const m of v.messages ?? []) {
            const contact = plus(m.from);
            const text = bodyOf(m);
            const stored = await store.messages.add({
              tenantId,
              channel: 'whatsapp',
              contact,
              direction: 'inbound',
              body: text,
              providerMessageId: m.id,
              status: 'received',
            });
            if (!stored) {
              duplicates++;
              continue;
            }
            messages++;
            const row = {
              direction: 'inbound',
              channel: 'whatsapp',
              provider: 'cloud_api',
              to: business,
              from: contact,
              message_id: m.id,
              message_type: m.type,
              status: 'received',
              chars: text.length,
              source: 'webhook',
            };
            await store.analytics.record(tenantId, 'sms', row);
            await event(tenantId, { ...row, text });
            chain(tenantId, contact, () => answer(tenantId, cfg, contact, business));
          }
          for (const s of v.statuses ?? []) {
            const m = await store.messages.setStatus(tenantId, 'whatsapp', s.id, s.status);
            if (!m) continue;
            statuses++;
            await event(tenantId, {
              direction: 'outbound',
              channel: 'whatsapp',
              to: m.contact,
              message_id: s.id,
              status: s.status,
              ...(s.errors?.[0]?.title ? { error: s.errors[0].title } : {}),
            });
          }
        }
      }
      return { messages, duplicates, statuses };
    },
    async idle() {
      while (chains.size > 0) await Promise.allSettled([...chains.values()]);
    },
  };
}
