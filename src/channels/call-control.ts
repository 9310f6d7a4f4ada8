import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import type { ResolvedCall } from '../telephony/gateway.js';
import type { CallStartInfo, TransferMode } from '../telephony/leg.js';
import {
  basicAuth,
  CallControlError,
  type ControlRequest,
  type ControlResponse,
  controlRequest,
  errorCode,
  failed,
  segment,
} from './control-request.js';
import { transferHookUrl } from './transfer-hook.js';
import { vonageJwt } from './vonage-jwt.js';

/**
 * Hangup and transfer through the telephony platform's REST call control, for wire protocols whose socket has no
 * such message (PROTOCOLS.md "Hangup / transfer" of each): Twilio, Telnyx, Plivo, Vonage, jambonz. Credentials are
 * the tenant's plugin of the same name (src/api/plugin-catalog.ts), status `active`; each has a `baseUrl` for
 * tests and proxies.
 *
 * `unsupported` (nothing was sent) when the tenant has no active, configured plugin for the protocol, when the
 * call carries no platform id usable on REST, or when the platform's transfer needs something we do not do:
 * - Plivo transfer (`legs=aleg`, `aleg_url`) and jambonz transfer (`call_hook`) make the platform fetch the dial
 *   instructions from a URL: the engine serves them, signed with the tenant's plugin secret
 *   (src/channels/transfer-hook.ts, route /webhook/transfer/{plivo|jambonz}); without `publicUrl` they are
 *   unsupported.
 * - Vonage: the call leg uuid is not on the socket; the NCCO's websocket endpoint must carry it in `headers` as
 *   `call_uuid` (or `uuid`), the uuid of the caller's leg from the answer webhook. `conversation_uuid` is NOT used:
 *   PUT /v1/calls/{uuid} takes a leg uuid, and the conversation uuid names the conversation.
 * Warm transfer: every platform here does a cold transfer; the summary is not spoken (Twilio would need a
 * conference and a whisper URL). The session still records the summary with the call.
 * An already-ended call is success for hangup (`already-ended`). Failures throw CallControlError (status and
 * platform code only: no credentials, no response text).
 */
export type HangupResult = 'done' | 'already-ended' | 'unsupported';
export type TransferResult = 'done' | 'unsupported';

export interface PlatformControl {
  hangup(tenantId: string, info: CallStartInfo): Promise<HangupResult>;
  transfer(
    tenantId: string,
    info: CallStartInfo,
    target: string,
    mode: TransferMode,
    summary?: string,
  ): Promise<TransferResult>;
}

/** The shape src/telephony/gateway.ts GatewayDeps.control takes. */
export interface GatewayControl {
  hangup(call: ResolvedCall, info: CallStartInfo): Promise<HangupResult>;
  transfer(
    call: ResolvedCall,
    info: CallStartInfo,
    target: string,
    mode: TransferMode,
    summary?: string,
  ): Promise<TransferResult>;
}

export function gatewayControl(pc: PlatformControl): GatewayControl {
  return {
    hangup: (call, info) => pc.hangup(call.tenantId, info),
    transfer: (call, info, target, mode, summary) => pc.transfer(call.tenantId, info, target, mode, summary),
  };
}

type Creds = Record<string, string>;
type Op = 'hangup' | 'transfer';
/** A request to send, or why none can be. */
type Plan = { req: ControlRequest; done(res: ControlResponse): HangupResult | undefined } | { unsupported: string };

interface Platform {
  /** Plugin config fields that must be non-empty. */
  required: readonly string[];
  defaultBase: string;
  /** The platform's call id on REST, or undefined when the socket gave none. */
  callId(info: CallStartInfo): string | undefined;
  plan(op: Op, c: Creds, base: string, id: string, target: Target, ctx: PlanContext): Plan;
}

type Target = { kind: 'phone' | 'sip'; value: string };
interface PlanContext {
  tenantId: string;
  /** Where the platform can fetch a signed transfer document (Plivo, jambonz); undefined: they cannot transfer. */
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

function xml(s: string): string {
  return s.replace(/[<>&'"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** Ids the adapters made up because the socket carried none (adapter.ts generatedCallId): useless on REST. */
function platformId(id: string, info: CallStartInfo): string | undefined {
  if (!id || id === info.streamId || id.startsWith(`${info.protocol}-`)) return undefined;
  return id;
}

const json = (auth: string, body: unknown) => ({
  headers: { authorization: auth, 'content-type': 'application/json', accept: 'application/json' },
  body: JSON.stringify(body),
});

const PLATFORMS: Readonly<Record<string, Platform>> = {
  // POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json, form-encoded, basic AccountSid:AuthToken.
  twilio: {
    required: ['accountSid', 'authToken'],
    defaultBase: 'https://api.twilio.com',
    // A CallSid (CA…), not the streamSid (MZ…) the adapter falls back to when the start message has no callSid.
    callId: (info) => (/^CA[0-9a-zA-Z]+$/.test(info.callId) ? info.callId : undefined),
    plan(op, c, base, id, target) {
      let form: Record<string, string> = { Status: 'completed' };
      if (op === 'transfer') {
        const t = target;
        const noun = t.kind === 'sip' ? `<Sip>${xml(t.value)}</Sip>` : `<Number>${xml(t.value)}</Number>`;
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
    plan(op, c, base, id, target) {
      let body: unknown = { action: 'hangup' };
      if (op === 'transfer') {
        const t = target;
        const endpoint =
          t.kind === 'sip' ? { type: 'sip', uri: t.value } : { type: 'phone', number: t.value.replace(/^\+/, '') };
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

/** Protocols this module can control over REST. */
export const REST_CONTROLLED: readonly string[] = Object.freeze(Object.keys(PLATFORMS));

export function createPlatformControl(opts: {
  store: Store;
  fetch?: typeof fetch;
  logger: Logger;
  /** Public base URL of this engine (PUBLIC_URL): needed for Plivo and jambonz transfer. */
  publicUrl?: string;
}): PlatformControl {
  const doFetch = opts.fetch ?? fetch;

  const credentials = async (tenantId: string, pluginId: string): Promise<Creds | undefined> => {
    const p = await opts.store.account.getPlugin(tenantId, pluginId);
    if (p?.status !== 'active') return undefined;
    const out: Creds = {};
    for (const [k, v] of Object.entries(p.config)) if (typeof v === 'string' && v !== '') out[k] = v;
    return out;
  };

  const run = async (op: Op, tenantId: string, info: CallStartInfo, target: string): Promise<HangupResult> => {
    const platform = PLATFORMS[info.protocol];
    const unsupported = (why: string): 'unsupported' => {
      opts.logger.info({ callId: info.callId, protocol: info.protocol, op }, `platform ${op} unsupported: ${why}`);
      return 'unsupported';
    };
    if (!platform) return unsupported('no REST call control for this protocol');
    const t = op === 'transfer' ? normalizeTarget(target) : { kind: 'phone' as const, value: '' };
    if (!t) throw new CallControlError(info.protocol, op, 'the target is neither a phone number nor a sip: URI');
    const id = platform.callId(info);
    if (!id) return unsupported('the stream carried no platform call id');
    const c = await credentials(tenantId, info.protocol);
    if (!c) return unsupported(`the tenant has no active ${info.protocol} plugin`);
    const missing = platform.required.filter((f) => !c[f]);
    if (missing.length) return unsupported(`the ${info.protocol} plugin lacks ${missing.join(', ')}`);
    const base = (c.baseUrl ?? platform.defaultBase).replace(/\/+$/, '');
    const plan = platform.plan(op, c, base, id, t, {
      tenantId,
      ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
    });
    if ('unsupported' in plan) return unsupported(plan.unsupported);
    const res = await controlRequest(plan.req, doFetch);
    const result = plan.done(res);
    if (result === undefined) throw failed(plan.req, res);
    opts.logger.info({ callId: info.callId, protocol: info.protocol, op, result }, 'platform call control');
    return result;
  };

  return {
    hangup: (tenantId, info) => run('hangup', tenantId, info, ''),
    async transfer(tenantId, info, target) {
      const r = await run('transfer', tenantId, info, target);
      return r === 'unsupported' ? 'unsupported' : 'done';
    },
  };
}
