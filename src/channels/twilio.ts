import { defaultGuardedFetch, EgressBlockedError } from '../net/egress.js';
import { connectStreamTwiml } from './twiml.js';
import { DialError, type DialRequest, type DialResult, type OutboundDialer } from './types.js';

export interface TwilioCredentials {
  accountSid: string;
  authToken: string;
  fromNumber: string;
  /** Default https://api.twilio.com; tests point it at a loopback fake. */
  baseUrl?: string;
}

export interface TwilioDialerOptions {
  /** Public base URL of this engine (PUBLIC_URL); the media stream URL is derived from it. */
  publicUrl?: string;
  /** The tenant's Twilio credentials (its twilio plugin configuration). */
  credentials(tenantId: string): Promise<TwilioCredentials | undefined>;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** POST to a Twilio 2010-04-01 REST resource (form-encoded, basic auth); the JSON answer or a DialError. */
export async function twilioPost(
  creds: TwilioCredentials,
  resource: string,
  form: Record<string, string>,
  // The base URL is tenant configuration: by default only egress-policy destinations (src/net/egress.ts).
  doFetch: typeof fetch = defaultGuardedFetch(),
  timeoutMs = 15_000,
): Promise<Record<string, unknown>> {
  const base = (creds.baseUrl ?? 'https://api.twilio.com').replace(/\/$/, '');
  const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(creds.accountSid)}/${resource}`;
  let res: Response;
  try {
    res = await doFetch(url, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${creds.accountSid}:${creds.authToken}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    // A refused destination (egress policy) will not become reachable by retrying.
    throw new DialError(`Twilio unreachable: ${(err as Error).message}`, !(err instanceof EgressBlockedError));
  }
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Non-JSON error pages (proxies) keep body empty; the status says enough.
  }
  if (!res.ok) {
    // Twilio error shape: {code, message, more_info, status}. 429 and 5xx may pass; 4xx will not.
    const msg = `Twilio ${res.status}${body.code ? ` (${body.code})` : ''}: ${String(body.message ?? res.statusText)}`;
    throw new DialError(msg, res.status === 429 || res.status >= 500, res.status);
  }
  return body;
}

/** Where Twilio reports an outbound call's final status (src/api/routes/carrier.ts). */
export function twilioStatusUrl(publicUrl: string, callId: string): string {
  return `${publicUrl.replace(/\/$/, '')}/webhook/twilio/status/${encodeURIComponent(callId)}`;
}

/** Outbound calls through Twilio Programmable Voice: Calls.json with inline TwiML that connects a Media Stream. */
export function createTwilioDialer(opts: TwilioDialerOptions): OutboundDialer {
  return {
    async dial(req: DialRequest): Promise<DialResult> {
      if (!opts.publicUrl) throw new DialError('PUBLIC_URL is not set: Twilio cannot reach the media endpoint', false);
      const creds = await opts.credentials(req.tenantId);
      if (!creds?.accountSid || !creds.authToken || !(req.from ?? creds.fromNumber)) {
        throw new DialError(
          'The twilio plugin is not purchased or not configured (accountSid, authToken, fromNumber)',
          false,
        );
      }
      const body = await twilioPost(
        creds,
        'Calls.json',
        {
          To: req.to,
          From: req.from ?? creds.fromNumber,
          Twiml: connectStreamTwiml(opts.publicUrl, req.assistant.assistantApiKey, req.callId),
          // Final status (completed, busy, no-answer, failed, canceled) comes back signed to /webhook/twilio/status.
          StatusCallback: twilioStatusUrl(opts.publicUrl, req.callId),
          StatusCallbackMethod: 'POST',
        },
        opts.fetch,
        opts.timeoutMs,
      );
      if (typeof body.sid !== 'string') throw new DialError('Twilio answered without a call sid', true);
      return { providerCallId: body.sid, status: body.status === 'ringing' ? 'ringing' : 'queued' };
    },
  };
}
