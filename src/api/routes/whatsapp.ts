import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, type TSchema, Type } from 'typebox';
import {
  verifyWhatsAppSignature,
  type WhatsAppContent,
  type WhatsAppTemplate,
  whatsappConfig,
} from '../../channels/whatsapp.js';
import { CloudWebhookSchema } from '../../channels/whatsapp-inbound.js';
import { EngineError } from '../../errors.js';
import { secretEquals } from '../../secret-equal.js';
import { tenantAssistant } from '../auth.js';
import type { RouteDeps } from '../deps.js';
import { e164 } from '../phone-number.js';
import { ErrorSchema, responses } from '../schemas.js';

const Link = Type.Object(
  { link: Type.Optional(Type.String({ maxLength: 2048 })), id: Type.Optional(Type.String({ maxLength: 256 })) },
  { additionalProperties: true },
);
/** Template parameters as the Cloud API takes them (type plus the object of that type). */
const Parameter = Type.Union([
  Type.Object({ type: Type.Literal('text'), text: Type.String({ maxLength: 32768 }) }),
  Type.Object({
    type: Type.Literal('currency'),
    currency: Type.Object({ fallback_value: Type.String(), code: Type.String(), amount_1000: Type.Integer() }),
  }),
  Type.Object({ type: Type.Literal('date_time'), date_time: Type.Object({ fallback_value: Type.String() }) }),
  Type.Object({ type: Type.Literal('image'), image: Link }),
  Type.Object({ type: Type.Literal('document'), document: Link }),
  Type.Object({ type: Type.Literal('video'), video: Link }),
  Type.Object({ type: Type.Literal('payload'), payload: Type.String() }),
  Type.Object({ type: Type.Literal('coupon_code'), coupon_code: Type.String() }),
]);
const Component = Type.Object({
  type: Type.Union(['header', 'body', 'button', 'footer'].map((t) => Type.Literal(t))),
  sub_type: Type.Optional(Type.String({ maxLength: 32, description: 'For buttons: quick_reply, url, copy_code…' })),
  index: Type.Optional(Type.Union([Type.String({ maxLength: 2 }), Type.Integer({ minimum: 0, maximum: 9 })])),
  parameters: Type.Optional(Type.Array(Parameter, { maxItems: 100 })),
});
/** A template message in the WhatsApp Cloud API format (`language` also accepted as a bare code). */
export const TemplateSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 512 }),
    language: Type.Union([
      Type.Object({
        code: Type.String({ minLength: 2, maxLength: 16 }),
        policy: Type.Optional(Type.Literal('deterministic')),
      }),
      Type.String({ minLength: 2, maxLength: 16 }),
    ]),
    components: Type.Optional(Type.Array(Component, { maxItems: 10 })),
  },
  { description: 'WhatsApp Cloud API template: {name, language: {code}, components: [{type, parameters}]}' },
);

const SendBody = Type.Object(
  {
    agent_id: Type.Optional(
      Type.String({ description: 'The assistant (ag_… or ast_…) that answers replies from this contact' }),
    ),
    to_number: Type.Optional(Type.String({ maxLength: 32, description: 'E.164' })),
    message_type: Type.Optional(Type.Union([Type.Literal('text'), Type.Literal('template')])),
    content: Type.Optional(
      Type.Union([Type.String({ minLength: 1, maxLength: 4096 }), TemplateSchema], {
        description: 'The text (message_type text) or the template object (message_type template)',
      }),
    ),
    to: Type.Optional(Type.String({ maxLength: 32, description: 'Earlier shape: alias of to_number' })),
    text: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'Earlier shape: a text message' })),
    mediaUrl: Type.Optional(
      Type.String({ maxLength: 2048, description: 'Earlier shape: an image link, text as caption' }),
    ),
  },
  { additionalProperties: false },
);

function invalid(field: string, message: string): never {
  throw new EngineError('VALIDATION_FAILED', `body.${field} ${message}`, [
    { in: 'body', field, instancePath: `/${field}`, message },
  ]);
}

/** A template as stored in the conversation: readable for the model that answers the reply. */
function templateText(t: WhatsAppTemplate): string {
  const params = (t.components ?? []).flatMap((c) =>
    ((c.parameters as Array<Record<string, unknown>> | undefined) ?? []).map((p) =>
      typeof p.text === 'string' ? p.text : String(p.type),
    ),
  );
  return `[template ${t.name} (${t.language.code})${params.length ? `: ${params.join(', ')}` : ''}]`;
}

/** The message the body asks for: the seed's `{agent_id, to_number, message_type, content}`, or `{to, text}`. */
function parseSend(b: Static<typeof SendBody>): { to: string; content: WhatsAppContent; agent?: string } {
  if (b.message_type !== undefined || b.content !== undefined || b.to_number !== undefined) {
    if (b.agent_id === undefined) invalid('agent_id', "is required (the agent answering this contact's replies)");
    if (b.to_number === undefined) invalid('to_number', 'is required');
    if (b.message_type === undefined) invalid('message_type', "is required: 'text' or 'template'");
    if (b.content === undefined) invalid('content', 'is required');
    const to = e164('to_number', b.to_number);
    if (b.message_type === 'text') {
      if (typeof b.content !== 'string') invalid('content', 'must be the message text when message_type is text');
      return { to, content: { type: 'text', text: b.content }, agent: b.agent_id };
    }
    if (typeof b.content === 'string') {
      invalid(
        'content',
        'must be a template object {name, language: {code}, components} when message_type is template',
      );
    }
    const { language, ...rest } = b.content;
    const template = { ...rest, language: typeof language === 'string' ? { code: language } : language };
    return { to, content: { type: 'template', template: template as WhatsAppTemplate }, agent: b.agent_id };
  }
  const raw = b.to ?? invalid('to_number', 'is required');
  const to = e164('to', raw);
  const text = b.text ?? invalid('content', 'is required');
  return {
    to,
    content: b.mediaUrl ? { type: 'image', link: b.mediaUrl, caption: text } : { type: 'text', text },
    ...(b.agent_id ? { agent: b.agent_id } : {}),
  };
}

/** POST /api/v1/whatsapp/send (CallAI): text or template through the tenant's WhatsApp Cloud API number. */
export function whatsappRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/api/v1/whatsapp/send',
      {
        schema: {
          tags: ['messaging'],
          summary: 'Send a WhatsApp text or template message (whatsapp plugin, Cloud API); replies go to agent_id',
          body: SendBody,
          response: responses(
            Type.Object({
              message_id: Type.String(),
              status: Type.String(),
              to_number: Type.String(),
              agent_id: Type.Optional(Type.String()),
              messageId: Type.String({ description: 'Alias of message_id' }),
            }),
          ),
        },
      },
      async (req) => {
        const { to, content, agent } = parseSend(req.body);
        const assistant = agent ? await tenantAssistant(deps.store, req, agent) : undefined;
        if (!deps.whatsapp) throw new EngineError('UNAVAILABLE', 'WhatsApp sending is not configured in this engine');
        const r = await deps.whatsapp.send({ tenantId: req.tenant.id, to, content });
        const body =
          content.type === 'template'
            ? templateText(content.template)
            : content.type === 'text'
              ? content.text
              : (content.caption ?? content.link);
        const s = deps.store;
        await s.messages.add({
          tenantId: req.tenant.id,
          channel: 'whatsapp',
          contact: to,
          direction: 'outbound',
          ...(assistant ? { assistantId: assistant.id } : {}),
          body,
          providerMessageId: r.providerMessageId,
          status: r.status,
        });
        if (assistant) await s.messages.bindContact(req.tenant.id, 'whatsapp', to, assistant.id);
        const row = {
          direction: 'outbound',
          channel: 'whatsapp',
          provider: r.provider,
          assistant_id: assistant?.id ?? null,
          to,
          message_id: r.providerMessageId,
          message_type: content.type,
          template: content.type === 'template' ? content.template.name : null,
          status: r.status,
          chars: body.length,
          source: 'api',
          ...(r.provider === 'simulated' ? { test: true } : {}),
        };
        await s.analytics.record(req.tenant.id, 'sms', row);
        await deps.webhooks?.enqueue(req.tenant.id, 'whatsapp.message', { ...row, text: body });
        return {
          status: 'success' as const,
          data: {
            message_id: r.providerMessageId,
            status: r.status,
            to_number: to,
            ...(assistant ? { agent_id: assistant.id } : {}),
            messageId: r.providerMessageId,
          },
        };
      },
    );
    app.get(
      '/api/v1/whatsapp/conversations/:number',
      {
        schema: {
          tags: ['messaging'],
          summary: "A contact's WhatsApp conversation (what the agent sees as history), oldest first",
          params: Type.Object({ number: Type.String({ maxLength: 32, description: 'E.164 (URL-encoded +)' }) }),
          querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })) }),
          response: responses(
            Type.Object({
              contact: Type.String(),
              agent_id: Type.Union([Type.String(), Type.Null()]),
              messages: Type.Array(
                Type.Object({
                  id: Type.String(),
                  direction: Type.String(),
                  body: Type.String(),
                  status: Type.String(),
                  message_id: Type.Union([Type.String(), Type.Null()]),
                  agent_id: Type.Union([Type.String(), Type.Null()]),
                  created_at: Type.String(),
                }),
              ),
            }),
          ),
        },
      },
      async (req) => {
        const contact = e164('number', req.params.number, 'querystring');
        const t = req.tenant.id;
        const rows = await deps.store.messages.history(t, 'whatsapp', contact, req.query.limit ?? 50);
        const agent = await deps.store.messages.contactAssistant(t, 'whatsapp', contact);
        if (rows.length === 0 && !agent)
          throw new EngineError('NOT_FOUND', 'No WhatsApp conversation with this number');
        return {
          status: 'success' as const,
          data: {
            contact,
            agent_id: agent ?? null,
            messages: rows.map((m) => ({
              id: m.id,
              direction: m.direction,
              body: m.body,
              status: m.status,
              message_id: m.providerMessageId ?? null,
              agent_id: m.assistantId ?? null,
              created_at: m.createdAt,
            })),
          },
        };
      },
    );
  };
}

const HookParams = Type.Object({ tenantId: Type.String({ maxLength: 64 }) });

/**
 * The WhatsApp Cloud API webhook (Meta App Dashboard > WhatsApp > Configuration, callback URL
 * `{PUBLIC_URL}/webhook/whatsapp/{tenantId}`): the verification GET echoes `hub.challenge` when `hub.verify_token`
 * is the plugin's verifyToken; POSTs must carry `X-Hub-Signature-256` over the raw body with the plugin's appSecret
 * (401 without it, 403 when it does not match). No portal credentials: the signature is the authentication.
 */
export function whatsappWebhookRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    // The signature covers the exact bytes: keep them (this scope only), and check the signature (preValidation)
    // before a JSON error or the schema can answer anything.
    const raw = new WeakMap<object, Buffer>();
    const NOT_JSON = Symbol('not JSON');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
      raw.set(req, body as Buffer);
      try {
        done(null, JSON.parse((body as Buffer).toString('utf8')));
      } catch {
        done(null, NOT_JSON);
      }
    });
    const tags = ['carrier callbacks'];
    const config = async (tenantId: string) => {
      const cfg = await whatsappConfig(deps.store, tenantId);
      if (!cfg) throw new EngineError('NOT_FOUND', 'No WhatsApp plugin is configured here');
      return cfg;
    };
    app.get(
      '/webhook/whatsapp/:tenantId',
      {
        schema: {
          tags,
          summary: 'WhatsApp webhook verification (hub.mode=subscribe, hub.verify_token, hub.challenge echoed)',
          security: [],
          params: HookParams,
          querystring: Type.Object({
            'hub.mode': Type.Optional(Type.String()),
            'hub.verify_token': Type.Optional(Type.String()),
            'hub.challenge': Type.Optional(Type.String({ maxLength: 256 })),
          }),
          response: { 200: Type.String(), '4xx': ErrorSchema } as Record<string, TSchema>,
        },
      },
      async (req, reply) => {
        const cfg = await config(req.params.tenantId);
        const q = req.query;
        if (
          q['hub.mode'] !== 'subscribe' ||
          !cfg.verifyToken ||
          !q['hub.verify_token'] ||
          !secretEquals(q['hub.verify_token'], cfg.verifyToken) ||
          q['hub.challenge'] === undefined
        ) {
          throw new EngineError('FORBIDDEN', 'Webhook verification failed (hub.mode or hub.verify_token)');
        }
        return reply.type('text/plain').send(q['hub.challenge']);
      },
    );
    app.post(
      '/webhook/whatsapp/:tenantId',
      {
        schema: {
          tags,
          summary: 'WhatsApp webhook events (messages, statuses), signed with X-Hub-Signature-256',
          security: [],
          params: HookParams,
          body: CloudWebhookSchema,
          response: responses(
            Type.Object({ messages: Type.Integer(), duplicates: Type.Integer(), statuses: Type.Integer() }),
          ),
        },
        preValidation: async (req) => {
          const { tenantId } = req.params as Static<typeof HookParams>;
          const cfg = await config(tenantId);
          const signature = req.headers['x-hub-signature-256'];
          if (typeof signature !== 'string' || !signature) {
            throw new EngineError('UNAUTHORIZED', 'Missing X-Hub-Signature-256');
          }
          const bytes = raw.get(req);
          if (!cfg.appSecret || !bytes || !verifyWhatsAppSignature(cfg.appSecret, bytes, signature)) {
            throw new EngineError(
              'FORBIDDEN',
              'X-Hub-Signature-256 does not match the body (check the plugin appSecret)',
            );
          }
          if ((req.body as unknown) === NOT_JSON) throw new EngineError('BAD_REQUEST', 'The body is not JSON');
        },
      },
      async (req) => {
        const cfg = await config(req.params.tenantId);
        if (!deps.whatsappInbound) throw new EngineError('UNAVAILABLE', 'WhatsApp inbound is not configured here');
        const r = await deps.whatsappInbound.receive(req.params.tenantId, cfg, req.body);
        return { status: 'success' as const, data: r };
      },
    );
  };
}
