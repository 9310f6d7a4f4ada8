import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type TSchema, Type } from 'typebox';
import { pluginCredentials } from '../../channels/dialer.js';
import { twilioStatusUrl } from '../../channels/twilio.js';
import { mapTwilioStatus, verifyTwilioPost } from '../../channels/twilio-status.js';
import { EngineError } from '../../errors.js';
import type { RouteDeps } from '../app.js';
import { ErrorSchema, responses } from '../schemas.js';

const TERMINAL_FAILURES = new Set(['busy', 'failed', 'no-answer', 'canceled']);

/**
 * Callbacks from carriers (no portal credentials: each is verified by the carrier's own signature). Twilio posts an
 * outbound call's final status here (StatusCallback set by src/channels/twilio.ts), so a call that is never answered
 * ends as busy / no-answer / failed with a `call.failed` webhook instead of staying queued.
 */
export function carrierRoutes(deps: RouteDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    app.post(
      '/webhook/twilio/status/:callId',
      {
        schema: {
          tags: ['carrier callbacks'],
          summary: 'Twilio call status callback (X-Twilio-Signature verified with the tenant twilio plugin token)',
          security: [],
          consumes: ['application/x-www-form-urlencoded'],
          params: Type.Object({ callId: Type.String() }),
          body: Type.Object(
            { CallSid: Type.String(), CallStatus: Type.String(), CallDuration: Type.Optional(Type.String()) },
            { additionalProperties: Type.String() },
          ),
          response: { ...responses(Type.Object({ status: Type.String() })), 403: ErrorSchema } as Record<
            string,
            TSchema
          >,
        },
      },
      async (req) => {
        const forbidden = () => new EngineError('FORBIDDEN', 'Signature check failed');
        const call = await deps.store.calls.find(req.params.callId);
        if (!call) throw forbidden();
        const creds = await pluginCredentials(deps.store, call.tenantId, 'twilio');
        const params = req.body as Record<string, string>;
        const fwd = req.headers['x-forwarded-host'];
        const host = (Array.isArray(fwd) ? fwd[0] : fwd) ?? req.headers.host ?? '';
        const urls = [`https://${host}${req.url}`];
        if (deps.config.publicUrl) urls.unshift(twilioStatusUrl(deps.config.publicUrl, call.id));
        const sig = req.headers['x-twilio-signature'];
        if (!creds?.authToken || !verifyTwilioPost(creds.authToken, urls, params, Array.isArray(sig) ? sig[0] : sig)) {
          throw forbidden();
        }
        const next = mapTwilioStatus(params.CallStatus ?? '');
        // Once the media stream is up the call session owns the record; the carrier only fills in what came before.
        if (next && (call.status === 'queued' || call.status === 'ringing')) {
          const terminal = next !== 'ringing';
          const seconds = Number(params.CallDuration);
          await deps.store.calls.update(call.id, {
            status: next,
            providerCallId: params.CallSid,
            ...(terminal ? { endedAt: new Date().toISOString(), endReason: `carrier: ${params.CallStatus}` } : {}),
            ...(terminal && Number.isFinite(seconds) ? { durationMs: seconds * 1000 } : {}),
          });
          await deps.store.calls.appendEvent(call.id, 'state', { status: next, source: 'twilio' });
          if (TERMINAL_FAILURES.has(next)) {
            await deps.webhooks?.enqueue(call.tenantId, 'call.failed', {
              callId: call.id,
              direction: call.direction,
              to: call.to ?? null,
              reason: params.CallStatus,
            });
          }
        }
        return { status: 'success' as const, data: { status: next ?? call.status } };
      },
    );
  };
}
