import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time comparison of two secrets (keys, tokens, signatures) of any length. Both sides are first reduced to
 * an HMAC-SHA256 under a per-process random key, so the comparison always runs over 32 equal-length bytes: there
 * is no early return on a length mismatch, and neither the length nor any prefix of the expected value shows in the
 * time taken. The random key means a caller cannot precompute inputs whose digests collide.
 */
const KEY = randomBytes(32);

const digest = (v: string | Uint8Array): Buffer =>
  createHmac('sha256', KEY)
    .update(typeof v === 'string' ? Buffer.from(v, 'utf8') : v)
    .digest();

export function secretEquals(a: string | Uint8Array, b: string | Uint8Array): boolean {
  return timingSafeEqual(digest(a), digest(b));
}
