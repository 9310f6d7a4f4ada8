import { EngineError } from '../errors.js';
import { checkHost, checkUrl, type EgressPolicy } from '../net/policy.js';

/**
 * Configuration-time SSRF check (src/net/policy.ts) for tenant-supplied URLs: a clear 422 naming the field, so a
 * tenant learns at save time, not at the first failed webhook or dial. The guarded fetch still checks the resolved
 * address at connect time (names are not resolved here).
 */
export function assertEgressUrl(field: string, value: unknown, policy: EgressPolicy): void {
  const why = typeof value === 'string' ? checkUrl(value, policy) : 'must be a URL string';
  if (why) refuse(field, why);
}

/** The same for a bare host name or IP (FreeSWITCH Event Socket host). */
export function assertEgressHost(field: string, value: unknown, policy: EgressPolicy): void {
  const why = typeof value === 'string' ? checkHost(value, policy) : 'must be a host name';
  if (why) refuse(field, why);
}

function refuse(field: string, why: string): never {
  throw new EngineError('UNPROCESSABLE', `${field}: ${why}`, [
    { in: 'body', field, instancePath: `/${field}`, message: why },
  ]);
}
