import { EngineError } from '../errors.js';
import { pluginCredentials } from './dialer.js';
import { type MessageSenderOptions, testModeSender } from './simulated.js';
import { twilioPost } from './twilio.js';

/** One SMS to send through the tenant's messaging plugin. */
export interface SmsRequest {
  tenantId: string;
  to: string;
  text: string;
  from?: string;
}

export interface SmsResult {
  provider: 'twilio' | 'telnyx' | 'simulated';
  providerMessageId: string;
  status: string;
  from: string;
}

/** Sends SMS; a missing plugin is 422 CHANNEL_NOT_CONFIGURED, a carrier refusal 502 PROVIDER_ERROR. */
export interface SmsSender {
  send(req: SmsRequest): Promise<SmsResult>;
}

/**
 * SMS through the tenant's own carrier account: the twilio plugin (`POST /2010-04-01/Accounts/{sid}/Messages.json`,
 * form-encoded, basic auth) or else the telnyx plugin (`POST /v2/messages`, JSON, Bearer API key). Base URLs are
 * tenant configuration, so requests go through the SSRF-guarded fetch.
 */
export function createSmsSender(opts: MessageSenderOptions): SmsSender {
  return testModeSender<SmsRequest, SmsResult>(
    opts,
    'sms',
    async (req, { fetch: doFetch, timeoutMs }) => {
      const twilio = await pluginCredentials(opts.store, req.tenantId, 'twilio');
      if (twilio?.accountSid && twilio.authToken) {
        const from = req.from ?? twilio.fromNumber;
        if (!from) throw notConfigured('the twilio plugin has no fromNumber and the request gives no from_number');
        try {
          const body = await twilioPost(twilio, 'Messages.json', { To: req.to, From: from, Body: req.text }, doFetch);
          return {
            provider: 'twilio',
            providerMessageId: String(body.sid ?? ''),
            status: String(body.status ?? 'queued'),
            from,
          };
        } catch (err) {
          throw new EngineError('PROVIDER_ERROR', (err as Error).message);
        }
      }
      const telnyx = await opts.store.account.getPlugin(req.tenantId, 'telnyx');
      const cfg = telnyx?.status === 'active' ? telnyx.config : undefined;
      if (typeof cfg?.apiKey === 'string' && cfg.apiKey) {
        const from = req.from ?? (typeof cfg.fromNumber === 'string' ? cfg.fromNumber : '');
        if (!from) throw notConfigured('the telnyx plugin has no fromNumber and the request gives no from_number');
        const base = (typeof cfg.baseUrl === 'string' && cfg.baseUrl ? cfg.baseUrl : 'https://api.telnyx.com').replace(
          /\/$/,
          '',
        );
        let res: Response;
        try {
          res = await doFetch(`${base}/v2/messages`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${cfg.apiKey}`,
              'content-type': 'application/json',
              accept: 'application/json',
            },
            body: JSON.stringify({ from, to: req.to, text: req.text }),
            signal: AbortSignal.timeout(timeoutMs),
          });
        } catch (err) {
          throw new EngineError('PROVIDER_ERROR', `Telnyx unreachable: ${(err as Error).message}`);
        }
        const json = (await res.json().catch(() => ({}))) as {
          data?: { id?: string; to?: Array<{ status?: string }> };
          errors?: Array<{ detail?: string; title?: string }>;
        };
        if (!res.ok) {
          const e = json.errors?.[0];
          throw new EngineError('PROVIDER_ERROR', `Telnyx ${res.status}: ${e?.detail ?? e?.title ?? res.statusText}`);
        }
        return {
          provider: 'telnyx',
          providerMessageId: String(json.data?.id ?? ''),
          status: String(json.data?.to?.[0]?.status ?? 'queued'),
          from,
        };
      }
      throw notConfigured(
        'no messaging plugin: purchase and configure twilio (accountSid, authToken) or telnyx (apiKey)',
      );
    },
    (sim, req) => ({ ...sim, from: req.from ?? '+15005550006' }),
  );
}

function notConfigured(message: string): EngineError {
  return new EngineError('CHANNEL_NOT_CONFIGURED', `SMS: ${message}`);
}
