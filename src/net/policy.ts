import { isIP } from 'node:net';
import { type Cidr, classifyIp, inCidr, parseCidr } from './ip-ranges.js';

/**
 * Outbound network policy against SSRF for every request whose URL a tenant controls (webhook endpoints, carrier
 * base URLs). Two layers:
 * - checkUrl: syntactic, at configuration time, for a clear 422 (scheme, credentials, literal IPs, localhost);
 * - createGuardedFetch: at connect time, on the address DNS actually returned (so a name that resolves, or later
 *   re-resolves, to 169.254.169.254 is refused), on literal IP hosts, and on every redirect hop.
 * Link-local (cloud metadata), 0.0.0.0/8, multicast, broadcast and reserved ranges are always blocked; loopback,
 * RFC 1918, ULA and CGNAT only with blockPrivate. allowHosts exempts names and CIDRs from both.
 */
export interface EgressPolicy {
  blockPrivate: boolean;
  /** Host names (exact, case-insensitive; `*.example.com` for subdomains) or IPs/CIDRs the checks skip. */
  allowHosts?: string[];
}

/** EGRESS_BLOCK_PRIVATE ('true' blocks private ranges too) and EGRESS_ALLOW_HOSTS (comma-separated). */
export function egressPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): EgressPolicy {
  const allow = (env.EGRESS_ALLOW_HOSTS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return { blockPrivate: env.EGRESS_BLOCK_PRIVATE === 'true', ...(allow.length > 0 ? { allowHosts: allow } : {}) };
}

/** Thrown (or given as the fetch rejection) when the policy refuses a destination. */
export class EgressBlockedError extends Error {
  readonly code = 'EGRESS_BLOCKED';
  constructor(message: string) {
    super(message);
    this.name = 'EgressBlockedError';
  }
}

interface CompiledAllow {
  names: Set<string>;
  suffixes: string[];
  cidrs: Cidr[];
}

const compiled = new WeakMap<EgressPolicy, CompiledAllow>();

function allowOf(policy: EgressPolicy): CompiledAllow {
  let c = compiled.get(policy);
  if (c) return c;
  c = { names: new Set(), suffixes: [], cidrs: [] };
  for (const raw of policy.allowHosts ?? []) {
    const h = raw.toLowerCase().replace(/^\[|\]$/g, '');
    const cidr = parseCidr(h);
    if (cidr) c.cidrs.push(cidr);
    else if (h.startsWith('*.')) c.suffixes.push(h.slice(1));
    else c.names.add(h.replace(/\.$/, ''));
  }
  compiled.set(policy, c);
  return c;
}

export function nameAllowed(policy: EgressPolicy, host: string): boolean {
  const a = allowOf(policy);
  const h = host.toLowerCase().replace(/\.$/, '');
  return a.names.has(h) || a.suffixes.some((s) => h.endsWith(s));
}

/** Why an address may not be reached under the policy, or null when it may. */
export function checkAddress(address: string, policy: EgressPolicy): string | null {
  if (allowOf(policy).cidrs.some((c) => inCidr(address, c))) return null;
  const hit = classifyIp(address);
  if (!hit || (hit.cls === 'private' && !policy.blockPrivate)) return null;
  return `${address} is in a blocked range: ${hit.name} (${hit.cidr})`;
}

/** Names that are loopback or metadata by definition, refused before any DNS (RFC 6761 6.3; GCP metadata). */
export function blockedName(host: string, policy: EgressPolicy): string | null {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'metadata.google.internal' || h === 'metadata') return `${host} is a cloud metadata host`;
  if (policy.blockPrivate && (h === 'localhost' || h.endsWith('.localhost'))) return `${host} is loopback`;
  return null;
}

/**
 * Syntactic check for API validation: http/https only, no user:password@, and a host that is not a literal IP
 * in a blocked range (decimal, hex and octal IPv4 forms are normalized by `new URL`). Null when acceptable.
 * Names are not resolved here (DNS can change); the guarded fetch checks the resolved address at connect time.
 */
export function checkUrl(url: string, policy: EgressPolicy): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a valid URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `scheme ${u.protocol} is not allowed (http or https)`;
  if (u.username !== '' || u.password !== '') return 'must not carry credentials (user:password@)';
  return checkHost(u.hostname, policy);
}

export function checkHost(hostname: string, policy: EgressPolicy): string | null {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === '') return 'has no host';
  if (nameAllowed(policy, host)) return null;
  if (isIP(host) !== 0) return checkAddress(host, policy);
  return blockedName(host, policy);
}
