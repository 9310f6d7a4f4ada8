import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { secretEquals } from '../secret-equal.js';

/**
 * X-Twilio-Signature on the WebSocket upgrade: base64(HMAC-SHA1(authToken, URL)), the rule Twilio uses for its
 * webhooks, where for a GET-like request with no POST body the signed string is the full URL alone.
 * PROTOCOLS.md: no Twilio page states the exact rule for wss, so BOTH readings are accepted: the URL as
 * `wss://<Host><path>` (what the <Stream url> says) and as `https://<Host><path>` (how Twilio signs webhooks).
 * Compared in constant time. Behind a proxy, Host must be the public host Twilio dialled
 * (X-Forwarded-Host is preferred when present).
 */
export function twilioSignatureUrls(headers: IncomingHttpHeaders, path: string): string[] {
  const fwd = headers['x-forwarded-host'];
  const host = (Array.isArray(fwd) ? fwd[0] : fwd) ?? headers.host ?? '';
  return [`wss://${host}${path}`, `https://${host}${path}`];
}

export function twilioSignature(authToken: string, url: string): string {
  return createHmac('sha1', authToken).update(url, 'utf8').digest('base64');
}

export function verifyTwilioSignature(authToken: string, headers: IncomingHttpHeaders, path: string): boolean {
  const raw = headers['x-twilio-signature'];
  const given = Array.isArray(raw) ? raw[0] : raw;
  if (!given) return false;
  let ok = false;
  for (const url of twilioSignatureUrls(headers, path)) {
    // Both candidates are always checked: the time taken does not depend on which one matched.
    if (secretEquals(twilioSignature(authToken, url), given)) ok = true;
  }
  return ok;
}
