import { createHmac } from 'node:crypto';
import { EngineError } from '../errors.js';
import { EgressBlockedError } from '../net/egress.js';
import { secretEquals } from '../secret-equal.js';
import type { Store } from '../store/index.js';
import { type MessageSenderOptions, testModeSender } from './simulated.js';

/**
 * WhatsApp through Meta's WhatsApp Business Cloud API (developers.facebook.com/docs/whatsapp/cloud-api), with the
 * tenant's `whatsapp` plugin configuration:
 *   send:    POST {baseUrl}/{apiVersion}/{phoneNumberId}/messages, `Authorization: Bearer {accessToken}`, JSON
 *            `{messaging_product: "whatsapp", to, type: "text" | "template", …}` -> `{messages: [{id: "wamid…"}]}`;
 *            errors `{error: {message, type, code, error_subcode?, fbtrace_id}}`.
 *   receive: the app's webhook (src/api/routes/whatsapp.ts): GET verification with hub.verify_token, POSTs signed
 *            with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(appSecret, raw body)>`.
 */

export interface WhatsAppConfig {
  phoneNumberId: string;
  accessToken: string;
  /** Signs the webhook POSTs (App Dashboard > App settings > Basic > App secret). */
  appSecret?: string;
  /** The token the webhook verification GET must carry (chosen by the tenant in the App Dashboard). */
  verifyToken?: string;
  /** Assistant (ag_…) answering contacts no send has bound to an agent yet. */
  agentId?: string;
  baseUrl: string;
  apiVersion: string;
}

const DEFAULT_BASE = 'https://graph.facebook.com';
const DEFAULT_VERSION = 'v21.0';

/** The tenant's active whatsapp plugin as a Cloud API configuration, or undefined when absent or incomplete. */
export async function whatsappConfig(store: Store, tenantId: string): Promise<WhatsAppConfig | undefined> {
  const p = await store.account.getPlugin(tenantId, 'whatsapp');
  if (p?.status !== 'active') return undefined;
  const str = (k: string) => {
    const v = p.config[k];
    return typeof v === 'string' || typeof v === 'number' ? String(v).trim() : '';
  };
  if (!str('phoneNumberId') || !str('accessToken')) return undefined;
  return {
    phoneNumberId: str('phoneNumberId'),
    accessToken: str('accessToken'),
    ...(str('appSecret') ? { appSecret: str('appSecret') } : {}),
    ...(str('verifyToken') ? { verifyToken: str('verifyToken') } : {}),
    ...(str('agentId') ? { agentId: str('agentId') } : {}),
    baseUrl: (str('baseUrl') || DEFAULT_BASE).replace(/\/$/, ''),
    apiVersion: str('apiVersion') || DEFAULT_VERSION,
  };
}

/** A message template in the Cloud API's own format (name, language, components with parameters). */
export interface WhatsAppTemplate {
  name: string;
  language: { code: string; policy?: 'deterministic' };
  components?: Array<Record<string, unknown>>;
}

export type WhatsAppContent =
  | { type: 'text'; text: string; previewUrl?: boolean }
  | { type: 'template'; template: WhatsAppTemplate }
  | { type: 'image'; link: string; caption?: string };

export interface WhatsAppSendRequest {
  tenantId: string;
  /** E.164 */
  to: string;
  content: WhatsAppContent;
}

export interface WhatsAppSendResult {
  providerMessageId: string;
  /** `accepted` (what the Cloud API answers); delivery comes later as status webhooks. */
  status: string;
  /** The WhatsApp id of the recipient, when the API returned one. */
  waId?: string;
  /** `cloud_api`, or `simulated` for test-mode credentials (src/channels/simulated.ts). */
  provider: string;
}

/** Sends WhatsApp messages; a missing plugin is 422 CHANNEL_NOT_CONFIGURED, a Cloud API refusal 502 PROVIDER_ERROR. */
export interface WhatsAppSender {
  send(req: WhatsAppSendRequest): Promise<WhatsAppSendResult>;
}

/** The Cloud API request body for one message. `to` goes without the plus (a WhatsApp id is the digits). */
export function cloudApiBody(to: string, content: WhatsAppContent): Record<string, unknown> {
  const base = { messaging_product: 'whatsapp', recipient_type: 'individual', to: to.replace(/^\+/, '') };
  if (content.type === 'text') {
    return { ...base, type: 'text', text: { preview_url: content.previewUrl ?? false, body: content.text } };
  }
  if (content.type === 'image') {
    return {
      ...base,
      type: 'image',
      image: { link: content.link, ...(content.caption ? { caption: content.caption } : {}) },
    };
  }
  return { ...base, type: 'template', template: content.template };
}

interface CloudApiError {
  error?: { message?: string; type?: string; code?: number; error_subcode?: number; error_data?: { details?: string } };
}

export function createWhatsAppSender(opts: MessageSenderOptions): WhatsAppSender {
  return testModeSender<WhatsAppSendRequest, WhatsAppSendResult>(
    opts,
    'whatsapp',
    async (req, { fetch: doFetch, timeoutMs }) => {
      const cfg = await whatsappConfig(opts.store, req.tenantId);
      if (!cfg) {
        throw new EngineError(
          'CHANNEL_NOT_CONFIGURED',
          'WhatsApp: the whatsapp plugin is not purchased or not configured (phoneNumberId, accessToken)',
        );
      }
      const url = `${cfg.baseUrl}/${encodeURIComponent(cfg.apiVersion)}/${encodeURIComponent(cfg.phoneNumberId)}/messages`;
      let res: Response;
      try {
        res = await doFetch(url, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${cfg.accessToken}`,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          body: JSON.stringify(cloudApiBody(req.to, req.content)),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const why = err instanceof EgressBlockedError ? 'refused by the egress policy' : 'unreachable';
        throw new EngineError('PROVIDER_ERROR', `WhatsApp Cloud API ${why}: ${(err as Error).message}`);
      }
      const json = (await res.json().catch(() => ({}))) as CloudApiError & {
        messages?: Array<{ id?: string; message_status?: string }>;
        contacts?: Array<{ wa_id?: string }>;
      };
      if (!res.ok || !json.messages?.[0]?.id) {
        const e = json.error;
        const detail = e?.error_data?.details ? ` (${e.error_data.details})` : '';
        throw new EngineError(
          'PROVIDER_ERROR',
          `WhatsApp Cloud API ${res.status}: ${e?.message ?? res.statusText}${e?.code ? ` [code ${e.code}]` : ''}${detail}`,
        );
      }
      const waId = json.contacts?.[0]?.wa_id;
      return {
        providerMessageId: json.messages[0].id,
        status: json.messages[0].message_status ?? 'accepted',
        provider: 'cloud_api',
        ...(waId ? { waId } : {}),
      };
    },
    (sim) => sim,
  );
}

/** `sha256=<hex>` over the raw body with the app secret, as Meta signs webhook POSTs. */
export function whatsappSignature(appSecret: string, rawBody: Uint8Array): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;
}

/** Constant-time check of an `X-Hub-Signature-256` header. */
export function verifyWhatsAppSignature(appSecret: string, rawBody: Uint8Array, given: string | undefined): boolean {
  if (!given) return false;
  return secretEquals(whatsappSignature(appSecret, rawBody), given.trim());
}
