import { createHmac } from 'node:crypto';
import { secretEquals } from '../secret-equal.js';

/**
 * Webhook signature (documented in the OpenAPI description and README):
 *   X-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 * The timestamp is inside the signed text, so a captured request cannot be replayed later with a fresh `t`;
 * receivers reject a `t` older than their tolerance (5 minutes by default).
 */
export function signPayload(secret: string, body: string, timestampSec: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSec}.${body}`, 'utf8').digest('hex');
  return `t=${timestampSec},v1=${mac}`;
}

/** Receiver side: true when `header` signs `body` with `secret` within `toleranceSec` of `nowSec`. */
export function verifySignature(
  secret: string,
  body: string,
  header: string,
  nowSec = Math.floor(Date.now() / 1000),
  toleranceSec = 300,
): boolean {
  const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isSafeInteger(t) || Math.abs(nowSec - t) > toleranceSec || !parts.v1) return false;
  return secretEquals(signPayload(secret, body, t).split('v1=')[1]!, parts.v1.toLowerCase());
}
