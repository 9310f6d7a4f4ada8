import { createHash, randomBytes } from 'node:crypto';
import { secretEquals } from '../secret-equal.js';

/** Random ids with a type prefix (`c_`, `ag_`, `ast_`, …): 16 bytes = 128 bits, base64url. */
export function newId(prefix: string, bytes = 16): string {
  return `${prefix}_${randomBytes(bytes).toString('base64url')}`;
}

/**
 * Secrets we issue (portal API keys) carry 256 random bits, so a plain SHA-256 is enough to store them: there is no
 * dictionary to attack and stretching (bcrypt/scrypt) would only slow every request. The hash doubles as the lookup
 * index, and the final comparison is constant-time.
 */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function sameHash(a: Buffer, b: Buffer): boolean {
  return secretEquals(a, b);
}

export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}
