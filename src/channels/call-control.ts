import type { Logger } from '../log.js';
import { defaultGuardedFetch } from '../net/egress.js';
import type { Store } from '../store/index.js';
import type { CallControl, ControlResult, TransferMode } from '../telephony/call-control.js';
import type { ControlFor } from '../telephony/gateway.js';
import type { CallStartInfo } from '../telephony/leg.js';
import { type Creds, normalizeTarget, type Op, PLATFORMS } from './control-platforms.js';
import { CallControlError, controlRequest, failed } from './control-request.js';

export { normalizeTarget } from './control-platforms.js';

/**
 * Hangup and transfer through the telephony platform's REST call control: a carrier of the one call-control
 * interface (src/telephony/call-control.ts), bound to one call (GatewayDeps.control), for wire protocols whose
 * socket has no such message (PROTOCOLS.md "Hangup / transfer" of each): Twilio, Telnyx, Plivo, Vonage, jambonz. Credentials are
 * the tenant's plugin of the same name (src/api/plugin-catalog.ts), status `active`; each has a `baseUrl` for
 * tests and proxies.
 *
 * `unsupported` (nothing was sent) when the tenant has no active, configured plugin for the protocol, when the
 * call carries no platform id usable on REST, or when a transfer lacks what the platform needs:
 * - Plivo transfer (`legs=aleg`, `aleg_url`) and jambonz transfer (`call_hook`) make the platform fetch the dial
 *   instructions from a URL: the engine serves them, signed with the tenant's plugin secret
 *   (src/channels/transfer-hook.ts, route /webhook/transfer/{plivo|jambonz}); without `publicUrl` they are
 *   unsupported.
 * - Vonage: the call leg uuid is not on the socket; the NCCO's websocket endpoint must carry it in `headers` (or
 *   the URI query) as `call_uuid` (or `uuid`): the uuid of the caller's leg from the answer webhook.
 *   `conversation_uuid` is NOT used: PUT /v1/calls/{uuid} takes a leg uuid; the conversation uuid names the
 *   conversation.
 * Warm transfer: on Twilio and Vonage (phone targets; with `publicUrl`) the summary is whispered to the human when
 * they answer, before the caller is connected (Twilio <Number url> / <Sip url>: a signed <Say> document; Vonage
 * connect `onAnswer`: a signed `talk` NCCO); elsewhere it is a cold transfer and the summary is not passed on.
 * An already-ended call is `already-ended`. Failures throw CallControlError (status and platform code only: no
 * credentials, no response text). DTMF is not a REST operation here: `unsupported` (the leg plays tones in-band).
 */
export function createPlatformControl(opts: {
  store: Store;
  fetch?: typeof fetch;
  logger: Logger;
  /** Public base URL of this engine (PUBLIC_URL): needed for Plivo and jambonz transfer. */
  publicUrl?: string;
}): ControlFor {
  // baseUrl is tenant configuration: by default only egress-policy destinations (src/net/egress.ts).
  const doFetch = opts.fetch ?? defaultGuardedFetch();

  const credentials = async (tenantId: string, pluginId: string): Promise<Creds | undefined> => {
    const p = await opts.store.account.getPlugin(tenantId, pluginId);
    if (p?.status !== 'active') return undefined;
    const out: Creds = {};
    for (const [k, v] of Object.entries(p.config)) if (typeof v === 'string' && v !== '') out[k] = v;
    return out;
  };

  const run = async (
    op: Op,
    tenantId: string,
    info: CallStartInfo,
    target: string,
    mode: TransferMode = 'cold',
    summary?: string,
  ): Promise<ControlResult> => {
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
      mode,
      ...(summary ? { summary } : {}),
      ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
    });
    if ('unsupported' in plan) return unsupported(plan.unsupported);
    const res = await controlRequest(plan.req, doFetch);
    const result = plan.done(res);
    if (result === undefined) throw failed(plan.req, res);
    opts.logger.info({ callId: info.callId, protocol: info.protocol, op, result }, 'platform call control');
    return result;
  };

  return ({ tenantId }, info): CallControl => ({
    hangup: () => run('hangup', tenantId, info, ''),
    transfer: (target, mode, summary) => run('transfer', tenantId, info, target, mode, summary),
    sendDtmf: () => 'unsupported',
  });
}
