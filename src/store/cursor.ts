import { EngineError } from '../errors.js';

/** Opaque pagination cursors: base64url of the last row's sequence number. */
export function encodeCursor(seq: number): string {
  return Buffer.from(String(seq), 'utf8').toString('base64url');
}

/** Undefined for no cursor; a malformed one is a 400 (restarting from the top would loop a BI export). */
export function decodeCursor(cursor: string | undefined): number | undefined {
  if (!cursor) return undefined;
  const n = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!Number.isSafeInteger(n) || n <= 0) throw new EngineError('BAD_REQUEST', 'Invalid cursor');
  return n;
}

export function clampLimit(limit: number | undefined, fallback = 50, max = 500): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.max(1, Math.min(max, Math.floor(limit)));
}
