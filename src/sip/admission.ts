import { ipMatches } from '../api/ip-allowlist.js';
import type { DigestCredentials } from './digest.js';
import type { SipAdmission } from './server.js';

/**
 * Who may call a request-URI user from an address (DESIGN.md section 4 applied to SIP):
 * - an assistant API key (`ast_…`) is itself the credential: admitted here; resolve() then checks that the key is
 *   valid and that the tenant's IP allowlist (if any) admits the source;
 * - a routed number is not a secret: the source must be on the tenant's IP allowlist (a non-empty one), or pass
 *   digest authentication with the tenant's SIP credentials (the `sip` plugin's username / password); else 403.
 */
export interface AdmissionLookups {
  /** The tenant a number is routed to (/account/number-routing). */
  tenantOfNumber(number: string): Promise<string | undefined>;
  allowedIps(tenantId: string): Promise<string[]>;
  /** The tenant's inbound SIP digest credentials, when configured. */
  credentials(tenantId: string): Promise<DigestCredentials | undefined>;
}

export function createAdmission(l: AdmissionLookups): (user: string, ip: string) => Promise<SipAdmission> {
  return async (user, ip) => {
    if (user.startsWith('ast_')) return { kind: 'allow' };
    const tenantId = await l.tenantOfNumber(user);
    if (!tenantId) return { kind: 'reject', status: 404, reason: 'Not Found' };
    const allowed = await l.allowedIps(tenantId);
    if (allowed.length > 0 && ipMatches(allowed, ip)) return { kind: 'allow' };
    const credentials = await l.credentials(tenantId);
    if (credentials) return { kind: 'digest', credentials };
    return { kind: 'reject', status: 403, reason: 'Forbidden' };
  };
}
