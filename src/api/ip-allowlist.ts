import { BlockList, isIP } from 'node:net';
import type { Store } from '../store/index.js';

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) is matched as 1.2.3.4. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip;
}

/** Validates one allowlist entry: an IPv4/IPv6 address or CIDR. Returns an error message or null. */
export function checkIpEntry(entry: string): string | null {
  const [addr, bits, extra] = entry.split('/');
  const v = isIP(addr ?? '');
  if (v === 0 || extra !== undefined) return `'${entry}' is not an IP address or CIDR`;
  if (bits === undefined) return null;
  const n = Number(bits);
  const max = v === 4 ? 32 : 128;
  return /^\d+$/.test(bits) && n >= 0 && n <= max ? null : `'${entry}' has an invalid prefix length (0-${max})`;
}

export function buildBlockList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    if (checkIpEntry(e) !== null) continue;
    const [addr, bits] = e.split('/') as [string, string | undefined];
    const type = isIP(addr) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

export function ipMatches(entries: readonly string[], ip: string): boolean {
  if (entries.length === 0) return true;
  const addr = normalizeIp(ip);
  const v = isIP(addr);
  if (v === 0) return false;
  return buildBlockList(entries).check(addr, v === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Whether `ip` may act for the tenant: true when the tenant has no allowlist. Used by the API on every business
 * route and by the media gateway for WebSocket upgrades.
 */
export async function isIpAllowed(store: Store, tenantId: string, ip: string): Promise<boolean> {
  return ipMatches(await store.account.getAllowedIps(tenantId), ip);
}
