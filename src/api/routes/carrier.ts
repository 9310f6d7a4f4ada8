import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type TSchema, Type } from 'typebox';
import { carrierAnsweredBy } from '../../amd/detector.js';
import { normalizeTarget } from '../../channels/call-control.js';
import { pluginCredentials } from '../../channels/dialer.js';
import { recordCarrierOutcome } from '../../channels/outcome.js';
import {
  HOOK_SECRET_FIELD,
  type HookPlatform,
  jambonzDialVerbs,
  plivoDialXml,
  twilioWhisperXml,
  verifyTransferHook,
  vonageWhisperNcco,
} from '../../channels/transfer-hook.js';
import { twilioStatusUrl } from '../../channels/twilio.js';
import { mapTwilioStatus, verifyTwilioPost } from '../../channels/twilio-status.js';
import { EngineError } from '../../errors.js';
import type { RouteDeps } from '../deps.js';
import { ErrorSchema, responses } from '../schemas.js';

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
        // Twilio's own answering-machine detection (MachineDetection): its verdict, unless ours is on record.
        const answeredBy = carrierAnsweredBy(params.AnsweredBy);
        if (answeredBy && !call.answeredBy) await deps.store.calls.update(call.id, { answeredBy });
        const seconds = Number(params.CallDuration);
        if (next) {
          await recordCarrierOutcome(deps, call, {
            status: next,
            source: 'twilio',
            endReason: `carrier: ${params.CallStatus}`,
            reason: params.CallStatus,
            providerCallId: params.CallSid,
            ...(Number.isFinite(seconds) ? { durationMs: seconds * 1000 } : {}),
          });
        }
        return { status: 'success' as const, data: { status: next ?? call.status } };
      },
    );

    // Plivo (transfer aleg_url) and jambonz (call_hook) fetch a transfer's dial instructions here; the URL is
    // minted and signed by src/channels/call-control.ts with the tenant's plugin secret (transfer-hook.ts).
    const transferSchema = {
      tags: ['carrier callbacks'],
      summary: 'Transfer documents (Plivo <Dial>, jambonz dial, Twilio / Vonage warm-transfer whisper), signed',
      security: [],
      params: Type.Object({
        platform: Type.Union([
          Type.Literal('plivo'),
          Type.Literal('jambonz'),
          Type.Literal('twilio'),
          Type.Literal('vonage'),
        ]),
      }),
      querystring: Type.Object({ t: Type.String(), to: Type.String(), exp: Type.String(), sig: Type.String() }),
      response: {
        200: Type.Unknown({
          description:
            'Plivo: application/xml <Response><Dial>; Twilio: <Response><Say>; jambonz: a JSON verb list; ' +
            'Vonage: a JSON NCCO with talk',
        }),
        403: ErrorSchema,
      } as Record<string, TSchema>,
    };
    const transferHandler = async (req: FastifyRequest, reply: FastifyReply) => {
      const { platform } = req.params as { platform: HookPlatform };
      const q = req.query as { t: string; to: string; exp: string; sig: string };
      const plugin = await deps.store.account.getPlugin(q.t, platform);
      const secret = plugin?.status === 'active' ? plugin.config[HOOK_SECRET_FIELD[platform]] : '';
      const value = typeof secret === 'string' && secret ? verifyTransferHook(platform, q, secret) : undefined;
      if (value !== undefined && platform === 'twilio') {
        return reply.type('application/xml').send(twilioWhisperXml(value));
      }
      if (value !== undefined && platform === 'vonage') return reply.send(vonageWhisperNcco(value));
      const target = value === undefined ? undefined : normalizeTarget(value);
      if (!target) throw new EngineError('FORBIDDEN', 'Signature check failed');
      if (platform === 'plivo') return reply.type('application/xml').send(plivoDialXml(target));
      return reply.send(jambonzDialVerbs(target));
    };
    app.get('/webhook/transfer/:platform', { schema: transferSchema }, transferHandler);
    app.post(
      '/webhook/transfer/:platform',
      {
        schema: {
          ...transferSchema,
          consumes: ['application/x-www-form-urlencoded', 'application/json'],
          body: Type.Record(Type.String(), Type.Unknown(), { description: "The platform's call parameters (unused)" }),
        },
      },
      transferHandler,
    );
  };
}
