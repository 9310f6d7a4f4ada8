import { createHmac } from 'node:crypto';
import { secretEquals } from '../secret-equal.js';
import type { CallStatus } from '../store/index.js';

/**
 * Twilio request signature for a POST webhook (twilio.com/docs/usage/security): base64(HMAC-SHA1(authToken,
 * url + every POST parameter name and value, sorted by name, concatenated)).
 */
export function twilioPostSignature(authToken: string, url: string, params: Record<string, string>): string {
  let data = url;
  for (const k of Object.keys(params).sort()) data += k + params[k];
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/** Constant-time check against each candidate URL (the public URL as Twilio dialled it may differ behind proxies). */
export function verifyTwilioPost(
  authToken: string,
  urls: string[],
  params: Record<string, string>,
  given: string | undefined,
): boolean {
  if (!given) return false;
  let ok = false;
  for (const url of urls) {
    if (secretEquals(twilioPostSignature(authToken, url, params), given)) ok = true;
  }
  return ok;
}

/** Twilio CallStatus -> ours; undefined for statuses that change nothing before the media stream arrives. */
export function mapTwilioStatus(s: string): CallStatus | undefined {
  switch (s) {
    case 'initiated':
    case 'ringing':
      return 'ringing';
    case 'completed':
    case 'busy':
    case 'failed':
    case 'no-answer':
    case 'canceled':
      return s;
    default:
      return undefined;
  }
}
