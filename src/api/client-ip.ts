import type { IncomingMessage } from 'node:http';
import { type Cidr, inCidr, parseCidr } from '../net/ip-ranges.js';

/**
 * The client address of a request, for IP allowlists, rate limits and the media per-IP caps. X-Forwarded-For is
 * believed only hop by hop from proxies the operator listed in TRUST_PROXY (IPs or CIDRs): walking the header from
 * the right, each address is taken only while the one that handed it over is a listed proxy. `true` or a hop count
 * would let any client that reaches the engine directly (or through a proxy that appends) write its own address
 * and rotate it to escape per-IP limits, so they are refused and reported at start.
 */
export interface TrustedProxies {
  cidrs: readonly Cidr[];
  /** TRUST_PROXY entries that are not IPs/CIDRs (ignored; the engine warns at start). */
  refused: readonly string[];
}

export function parseTrustProxy(value: string | undefined): TrustedProxies {
  const cidrs: Cidr[] = [];
  const refused: string[] = [];
  for (const raw of (value ?? '').split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const c = parseCidr(entry);
    if (c) cidrs.push(c);
    else refused.push(entry);
  }
  return { cidrs, refused };
}

/** Whether `address` (the peer of some hop) is a listed proxy: Fastify's trustProxy function. */
export function isTrustedProxy(proxies: TrustedProxies, address: string): boolean {
  return proxies.cidrs.some((c) => inCidr(address, c));
}

/** The client address given the socket peer and X-Forwarded-For, trusting only listed proxies. */
export function clientAddress(
  proxies: TrustedProxies,
  peer: string,
  forwardedFor: string | string[] | undefined,
): string {
  if (proxies.cidrs.length === 0 || forwardedFor === undefined) return peer;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  let addr = peer;
  for (let i = hops.length - 1; i >= 0 && isTrustedProxy(proxies, addr); i--) {
    const next = hops[i]!.trim();
    if (next === '') break;
    addr = next;
  }
  return addr;
}

/** For the media gateway's upgrade requests (Fastify computes request.ip itself with isTrustedProxy). */
export function upgradeClientIp(proxies: TrustedProxies): (req: IncomingMessage) => string {
  return (req) => clientAddress(proxies, req.socket.remoteAddress ?? '', req.headers['x-forwarded-for']);
}
