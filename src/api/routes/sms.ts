import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EngineError } from '../../errors.js';
import type { RouteDeps } from '../deps.js';
import { e164 } from '../phone-number.js';
import { responses } from '../schemas.js';

/** POST /api/v1/sms/send: one SMS through the tenant's Twilio or Telnyx account, recorded in analytics/sms. */
export function smsRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/api/v1/sms/send',
      {
        schema: {
          tags: ['messaging'],
          summary: 'Send an SMS (twilio or telnyx plugin)',
          body: Type.Object(
            {
              to_number: Type.String({ maxLength: 32, description: 'E.164' }),
              message: Type.String({ minLength: 1, maxLength: 1600 }),
              from_number: Type.Optional(
                Type.String({ maxLength: 32, description: 'E.164; default: the plugin fromNumber' }),
              ),
              agent_id: Type.Optional(
                Type.String({ description: 'The assistant this message is sent for (analytics)' }),
              ),
            },
            { additionalProperties: false },
          ),
          response: responses(
            Type.Object({ message_id: Type.String(), status: Type.String(), provider: Type.String() }),
          ),
        },
      },
      async (req) => {
        const to = e164('to_number', req.body.to_number);
        const from = req.body.from_number === undefined ? undefined : e164('from_number', req.body.from_number);
        if (!deps.sms) throw new EngineError('UNAVAILABLE', 'SMS sending is not configured in this engine');
        const r = await deps.sms.send({
          tenantId: req.tenant.id,
          to,
          text: req.body.message,
          ...(from ? { from } : {}),
        });
        await deps.store.messages.add({
          tenantId: req.tenant.id,
          channel: 'sms',
          contact: to,
          direction: 'outbound',
          ...(req.body.agent_id ? { assistantId: req.body.agent_id } : {}),
          body: req.body.message,
          ...(r.providerMessageId ? { providerMessageId: r.providerMessageId } : {}),
          status: r.status,
        });
        await deps.store.analytics.record(req.tenant.id, 'sms', {
          direction: 'outbound',
          channel: 'sms',
          provider: r.provider,
          assistant_id: req.body.agent_id ?? null,
          to,
          from: r.from,
          message_id: r.providerMessageId,
          status: r.status,
          chars: req.body.message.length,
          source: 'api',
          ...(r.provider === 'simulated' ? { test: true } : {}),
        });
        return {
          status: 'success' as const,
          data: { message_id: r.providerMessageId, status: r.status, provider: r.provider },
        };
      },
    );
  };
}
