import type { Assistant } from '../assistant.js';
import type { EngineConfig } from '../config.js';
import type { Store } from '../store/index.js';
import type { ResolveRequest } from '../telephony/gateway.js';
import { TELNYX_TOKEN_HEADER, verifyStreamToken } from '../telephony/stream-auth.js';
import { verifyTwilioSignature } from '../telephony/twilio-signature.js';
import { ipMatches, isIpAllowed } from './ip-allowlist.js';
import { resolveByNumber } from './number-routing.js';

/**
 * Who may open a media stream (DESIGN.md 4, SECURITY.md "Media streams"). In order:
 *
 * 1. The assistant: by its API key (`ast_…`) in the path or the start message's `assistantApiKey`, looked up by hash;
 *    an `ag_…` id is not a credential and fails like a wrong key (4003). No key: the called number's routing.
 * 2. The tenant's IP allowlist, when it has one (4003 outside it).
 * 3. Platform signatures, wherever the request looks like that platform's, whichever /media/<protocol> it came to:
 *    a Twilio request (path `twilio`, or any path with `X-Twilio-Signature`) must verify with the tenant's Twilio auth
 *    token when one is configured; a Telnyx stream must carry the tenant's `streamAuthToken` when one is configured.
 *    Both are checked on the upgrade request's headers, before any call record exists.
 * 4. A stream found by number routing alone carries no secret of ours, so it must be signed (3, with a token
 *    configured) or come from an address in the tenant's allowlist; otherwise 4003. Plivo, Vonage, Exotel,
 *    FreeSWITCH, Asterisk and jambonz do not sign their upgrades, so their routed streams need the allowlist.
 *    SIP authenticates routed numbers itself (digest or allowlist, src/sip/admission.ts) and says so (`admitted`).
 * 5. Native protocol: with NATIVE_REQUIRE_PORTAL_KEY every upgrade needs the tenant's portal key
 *    (`Authorization: Bearer` or `x-portal-api-key`); a portal key that is sent is always checked.
 */
export type StreamAccess =
  | { ok: true; assistant: Assistant }
  | {
      ok: false;
      code: number;
      reason: string;
      /** Set when the tenant's IP allowlist refused the stream (the engine records it as a pre-call decision). */
      refused?: { tenantId: string; assistantId: string };
    };

const header = (req: ResolveRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

async function pluginSecret(store: Store, tenantId: string, pluginId: string, field: string): Promise<string> {
  const p = await store.account.getPlugin(tenantId, pluginId);
  const v = p?.status === 'active' ? p.config[field] : undefined;
  return typeof v === 'string' ? v : '';
}

export async function authorizeStream(store: Store, config: EngineConfig, req: ResolveRequest): Promise<StreamAccess> {
  const key = req.pathKey ?? req.paramKey;
  let assistant: Assistant | undefined;
  if (key) {
    assistant = await store.assistants.findByKey(key);
    if (!assistant) return { ok: false, code: 4003, reason: 'assistant key wrong or revoked' };
  } else if (req.to) {
    assistant = await resolveByNumber(store, req.to);
  }
  if (!assistant) {
    return { ok: false, code: 4001, reason: 'no assistant: no key in the path or start message, no number routing' };
  }
  const tenantId = assistant.tenantId;
  if (!(await isIpAllowed(store, tenantId, req.remoteAddress))) {
    return {
      ok: false,
      code: 4003,
      reason: 'not allowed from this IP address',
      refused: { tenantId, assistantId: assistant.id },
    };
  }

  const twilioShaped = req.protocol === 'twilio' || header(req, 'x-twilio-signature') !== undefined;
  const twilioAuthToken = twilioShaped ? await pluginSecret(store, tenantId, 'twilio', 'authToken') : '';
  const telnyxStreamToken =
    req.protocol === 'telnyx' ? await pluginSecret(store, tenantId, 'telnyx', 'streamAuthToken') : '';

  if (twilioAuthToken && !verifyTwilioSignature(twilioAuthToken, req.headers, req.url.split('?')[0] ?? req.url)) {
    return { ok: false, code: 4003, reason: 'invalid X-Twilio-Signature' };
  }
  if (telnyxStreamToken && !verifyStreamToken(telnyxStreamToken, req.headers, TELNYX_TOKEN_HEADER)) {
    return { ok: false, code: 4003, reason: `invalid ${TELNYX_TOKEN_HEADER}` };
  }
  if (!key && !twilioAuthToken && !telnyxStreamToken && !req.admitted) {
    const allowed = await store.account.getAllowedIps(tenantId);
    if (allowed.length === 0 || !ipMatches(allowed, req.remoteAddress)) {
      return {
        ok: false,
        code: 4003,
        reason: 'routed by number without a key: needs the platform signature or an allowlisted source IP',
      };
    }
  }

  if (req.protocol === 'native') {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header(req, 'authorization') ?? '')?.[1];
    const portalKey = header(req, 'x-portal-api-key') ?? bearer;
    if (portalKey !== undefined || config.nativeRequirePortalKey) {
      const match = portalKey === undefined ? undefined : await store.apiKeys.verify(portalKey);
      if (match?.tenant.id !== tenantId) {
        return { ok: false, code: 4003, reason: 'portal key missing or not of the assistant tenant' };
      }
    }
  }

  return { ok: true, assistant };
}
