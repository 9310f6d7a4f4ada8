/**
 * WebSocket close codes of every /media/* endpoint (PROTOCOLS.md "native (ours)", close code table). The same codes
 * on every protocol so that operators read one table.
 */
export const CloseCode = {
  /** Normal end of call by the engine (hangup, transfer done). */
  NORMAL: 4000,
  /** No assistant resolved (no key in path, start or number routing). */
  NO_ASSISTANT: 4001,
  /** Assistant key wrong, revoked, not allowed from this IP, or a bad platform signature. */
  FORBIDDEN: 4003,
  /** Protocol violation past the tolerated count. */
  PROTOCOL: 4008,
  /** Message too large. */
  TOO_LARGE: 4009,
  /** Message rate exceeded. */
  RATE: 4029,
  /** Tenant call limit reached. */
  CALL_LIMIT: 4030,
  /** Idle timeout: no message for the configured time. */
  IDLE: 4031,
  /** Server shutting down (draining). */
  SHUTDOWN: 4050,
  /** Internal error (logged with the call id). */
  INTERNAL: 4500,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** A close reason must fit a control frame: 123 bytes of UTF-8 (RFC 6455 section 5.5). */
export function closeReason(reason: string): string {
  const b = Buffer.from(reason, 'utf8');
  return b.length <= 123 ? reason : b.subarray(0, 120).toString('utf8');
}
