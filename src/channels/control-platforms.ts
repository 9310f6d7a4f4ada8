import type { CallStartInfo, TransferMode } from '../telephony/leg.js';
import {
  basicAuth,
  CallControlError,
  type ControlRequest,
  type ControlResponse,
  errorCode,
  segment,
} from './control-request.js';
import { transferHookUrl, xml } from './transfer-hook.js';
import { vonageJwt } from './vonage-jwt.js';

/**
 * The REST call-control request of each platform (PROTOCOLS.md "Hangup / transfer"), as data: which plugin fields
 * it needs, where its call id comes from, and how an operation becomes one request and how its answer reads.
 * Used by src/channels/call-control.ts.
 */
export type Creds = Record<string, string>;
export type Op = 'hangup' | 'transfer';
/** What one answer means: success, the call had already ended, or (undefined) a failure. */
export type Outcome = 'done' | 'already-ended';
/** A request to send, or why none can be. */
export type Plan = { req: ControlRequest; done(res: ControlResponse): Outcome | undefined } | { unsupported: string };

export interface Platform {
  /** Plugin config fields that must be non-empty. */
  required: readonly string[];
  defaultBase: string;
  /** The platform's call id on REST, or undefined when the socket gave none. */
  callId(info: CallStartInfo): string | undefined;
  plan(op: Op, c: Creds, base: string, id: string, target: Target, ctx: PlanContext): Plan;
}

export type Target = { kind: 'phone' | 'sip'; value: string };
export interface PlanContext {
  tenantId: string;
  mode: TransferMode;
  summary?: string;
  /**
   * Where platforms fetch signed transfer documents: needed by Plivo and jambonz transfer, and by the Twilio and
   * Vonage warm-transfer whisper.
   */
  publicUrl?: string;
}

const PHONE = /^\+?[0-9]{2,20}$/;
const SIP = /^sips?:[^\s<>"'&]{3,250}$/i;

/** A transfer target: E.164-ish number (spaces, dashes, dots and parentheses dropped) or a sip:/sips: URI. */
export function normalizeTarget(target: string): Target | undefined {
  const t = target.trim();
  if (SIP.test(t)) return { kind: 'sip', value: t };
  const n = t.replace(/[\s().-]/g, '');
  return PHONE.test(n) ? { kind: 'phone', value: n } : undefined;
}

/** Ids the adapters made up because the socket carried none (adapter.ts generatedCallId): useless on REST. */
function platformId(id: string, info: CallStartInfo): string | undefined {
  if (!id || id === info.streamId || id.startsWith(`${info.protocol}-`)) return undefined;
  return id;
}

/** Characters of a warm-transfer summary whispered to the human (about a minute of speech; keeps the URL short). */
const MAX_WHISPER = 800;

/** The text to whisper to the human of a warm transfer, when there is one and the platform can fetch it. */
function whisperText(ctx: PlanContext): string | undefined {
  return ctx.mode === 'warm' && ctx.publicUrl ? ctx.summary?.slice(0, MAX_WHISPER) || undefined : undefined;
}

const json = (auth: string, body: unknown) => ({
  headers: { authorization: auth, 'content-type': 'application/json', accept: 'application/json' },
  body: JSON.stringify(body),
});

export const PLATFORMS: Readonly<Record<string, Platform>> = {
  // POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json, form-encoded, basic AccountSid:AuthToken.
  twilio: {
    required: ['accountSid', 'authToken'],
    defaultBase: 'https://api.twilio.com',
    // A CallSid (CA…), not the streamSid (MZ…) the adapter falls back to when the start message has no callSid.
    callId: (info) => (/^CA[0-9a-zA-Z]+$/.test(info.callId) ? info.callId : undefined),
    plan(op, c, base, id, target, ctx) {
      let form: Record<string, string> = { Status: 'completed' };
      if (op === 'transfer') {
        const t = target;
        // Warm: the noun's `url` is TwiML run on the called party once they answer, before the caller is
        // connected (Twilio <Number url> / <Sip url>): a whisper of the summary, served signed by the engine.
        const say = whisperText(ctx);
        const whisper =
          say && ctx.publicUrl
            ? ` url="${xml(transferHookUrl(ctx.publicUrl, 'twilio', ctx.tenantId, say, c.authToken!))}"`
            : '';
        const noun =
          t.kind === 'sip' ? `<Sip${whisper}>${xml(t.value)}</Sip>` : `<Number${whisper}>${xml(t.value)}</Number>`;
        form = { Twiml: `<Response><Dial>${noun}</Dial></Response>` };
      }
      return {
        req: {
          platform: 'twilio',
          op,
          method: 'POST',
          url: `${base}/2010-04-01/Accounts/${segment(c.accountSid!)}/Calls/${segment(id)}.json`,
          headers: {
            authorization: basicAuth(c.accountSid!, c.authToken!),
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          },
          body: new URLSearchParams(form).toString(),
        },
        done: (res) =>
          res.status >= 200 && res.status < 300
            ? 'done'
            : op === 'hangup' && (res.status === 404 || errorCode(res.body) === '20404')
              ? 'already-ended'
              : undefined,
      };
    },
  },
  // POST /v2/calls/{call_control_id}/actions/{hangup|transfer}, Bearer API key, JSON.
  telnyx: {
    required: ['apiKey'],
    defaultBase: 'https://api.telnyx.com',
    callId: (info) => platformId(info.callId, info),
    plan(op, c, base, id, target) {
      const t = target.value;
      return {
        req: {
          platform: 'telnyx',
          op,
          method: 'POST',
          url: `${base}/v2/calls/${segment(id)}/actions/${op}`,
          ...json(`Bearer ${c.apiKey}`, op === 'transfer' ? { to: t } : {}),
        },
        done: (res) =>
          res.status >= 200 && res.status < 300
            ? 'done'
            : op === 'hangup' && res.status === 422 && errorCode(res.body) === '90018'
              ? 'already-ended'
              : undefined,
      };
    },
  },
  // DELETE /v1/Account/{auth_id}/Call/{call_uuid}/, basic auth_id:auth_token; 204, 404 = already ended.
  plivo: {
    required: ['authId', 'authToken'],
    defaultBase: 'https://api.plivo.com',
    callId: (info) => platformId(info.callId, info),
    plan(op, c, base, id, target, ctx) {
      const url = `${base}/v1/Account/${segment(c.authId!)}/Call/${segment(id)}/`;
      const auth = basicAuth(c.authId!, c.authToken!);
      if (op === 'transfer') {
        if (!ctx.publicUrl) return { unsupported: 'Plivo fetches the <Dial> XML from aleg_url: PUBLIC_URL is not set' };
        const aleg = transferHookUrl(ctx.publicUrl, 'plivo', ctx.tenantId, target.value, c.authToken!);
        return {
          // Transfer the caller's leg (aleg) to XML we serve, signed (src/channels/transfer-hook.ts); 202 Accepted.
          req: {
            platform: 'plivo',
            op,
            method: 'POST',
            url,
            ...json(auth, { legs: 'aleg', aleg_url: aleg, aleg_method: 'POST' }),
          },
          done: (res) => (res.status >= 200 && res.status < 300 ? 'done' : undefined),
        };
      }
      return {
        req: {
          platform: 'plivo',
          op,
          method: 'DELETE',
          url,
          headers: { authorization: auth, accept: 'application/json' },
        },
        done: (res) =>
          res.status >= 200 && res.status < 300 ? 'done' : res.status === 404 ? 'already-ended' : undefined,
      };
    },
  },
  // PUT /v1/calls/{uuid}, Bearer application JWT (RS256), JSON.
  vonage: {
    required: ['applicationId', 'privateKey'],
    defaultBase: 'https://api.nexmo.com',
    callId: (info) => info.customParameters.call_uuid || info.customParameters.uuid || undefined,
    plan(op, c, base, id, target, ctx) {
      let body: unknown = { action: 'hangup' };
      if (op === 'transfer') {
        const t = target;
        // Warm: a phone endpoint's onAnswer NCCO runs for the human before they join the caller: a signed `talk`.
        const say = whisperText(ctx);
        const onAnswer =
          say && ctx.publicUrl
            ? { onAnswer: { url: transferHookUrl(ctx.publicUrl, 'vonage', ctx.tenantId, say, c.privateKey!) } }
            : {};
        const endpoint =
          t.kind === 'sip'
            ? { type: 'sip', uri: t.value }
            : { type: 'phone', number: t.value.replace(/^\+/, ''), ...onAnswer };
        body = {
          action: 'transfer',
          destination: { type: 'ncco', ncco: [{ action: 'connect', endpoint: [endpoint] }] },
        };
      }
      const auth = () => {
        try {
          return `Bearer ${vonageJwt(c.applicationId!, c.privateKey!)}`;
        } catch {
          throw new CallControlError('vonage', op, 'privateKey is not a valid PEM private key');
        }
      };
      return {
        req: {
          platform: 'vonage',
          op,
          method: 'PUT',
          url: `${base}/v1/calls/${segment(id)}`,
          ...json(auth(), body),
          refreshHeaders: () => json(auth(), body).headers,
        },
        done: (res) =>
          res.status >= 200 && res.status < 300
            ? 'done'
            : op === 'hangup' && res.status === 404
              ? 'already-ended'
              : undefined,
      };
    },
  },
  // PUT /v1/Accounts/{accountSid}/Calls/{callSid}, Bearer API key, {"call_status":"completed"}.
  jambonz: {
    required: ['accountSid', 'apiKey'],
    defaultBase: 'https://jambonz.cloud/api',
    callId: (info) => platformId(info.callId, info),
    plan(op, c, base, id, target, ctx) {
      let body: unknown = { call_status: 'completed' };
      if (op === 'transfer') {
        if (!ctx.publicUrl)
          return { unsupported: 'jambonz fetches the dial verb from call_hook: PUBLIC_URL is not set' };
        // Redirect the call to a verb list we serve, signed (src/channels/transfer-hook.ts).
        body = { call_hook: transferHookUrl(ctx.publicUrl, 'jambonz', ctx.tenantId, target.value, c.apiKey!) };
      }
      return {
        req: {
          platform: 'jambonz',
          op,
          method: 'PUT',
          url: `${base}/v1/Accounts/${segment(c.accountSid!)}/Calls/${segment(id)}`,
          ...json(`Bearer ${c.apiKey}`, body),
        },
        done: (res) =>
          res.status >= 200 && res.status < 300
            ? 'done'
            : op === 'hangup' && res.status === 404
              ? 'already-ended'
              : undefined,
      };
    },
  },
};
