import type { IncomingHttpHeaders } from 'node:http';
import { secretEquals } from '../secret-equal.js';

/**
 * Telnyx `stream_auth_token` (PROTOCOLS.md "telnyx", Connection): sent as the `x-telnyx-streaming-auth-token`
 * header on the upgrade. Compared in constant time: both sides are hashed first so that neither the length nor
 * the content of the expected token leaks through timing.
 */
export function verifyStreamToken(expected: string, headers: IncomingHttpHeaders, header: string): boolean {
  const raw = headers[header];
  const given = Array.isArray(raw) ? raw[0] : raw;
  if (!given) return false;
  return secretEquals(expected, given);
}

export const TELNYX_TOKEN_HEADER = 'x-telnyx-streaming-auth-token';
