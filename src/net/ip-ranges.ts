import { isIP } from 'node:net';

/**
 * Which address ranges an outbound request may reach (the SSRF guard in egress.ts). Addresses are parsed into
 * bytes here instead of trusting string forms, so `::ffff:a9fe:a9fe`, `::ffff:169.254.169.254` and
 * `169.254.169.254` all land on the same range.
 */

/** 'always': never a legitimate tenant target (cloud metadata, link-local, multicast...); 'private': blocked only
 *  when the deployment says so (EGRESS_BLOCK_PRIVATE). */
export type RangeClass = 'always' | 'private';

export interface RangeHit {
  cls: RangeClass;
  /** Human name of the range, for error messages. */
  name: string;
  cidr: string;
}

interface Range extends RangeHit {
  bytes: Uint8Array;
  bits: number;
}

function range(cidr: string, cls: RangeClass, name: string): Range {
  const [addr, len] = cidr.split('/');
  const bytes = parseIp(addr!);
  if (!bytes) throw new Error(`bad CIDR ${cidr}`);
  return { cidr, cls, name, bytes, bits: len === undefined ? bytes.length * 8 : Number(len) };
}

// IPv4: RFC 6890 special-purpose registry, plus the cloud metadata addresses outside link-local.
const V4: readonly Range[] = [
  range('0.0.0.0/8', 'always', '"this network"'),
  range('169.254.0.0/16', 'always', 'link-local / cloud metadata'),
  range('100.100.100.200/32', 'always', 'cloud metadata (Alibaba)'),
  range('192.0.0.0/24', 'always', 'IETF protocol assignments'),
  range('192.0.2.0/24', 'always', 'documentation (TEST-NET-1)'),
  range('198.51.100.0/24', 'always', 'documentation (TEST-NET-2)'),
  range('203.0.113.0/24', 'always', 'documentation (TEST-NET-3)'),
  range('192.88.99.0/24', 'always', '6to4 relay anycast'),
  range('198.18.0.0/15', 'always', 'benchmarking'),
  range('224.0.0.0/4', 'always', 'multicast'),
  range('240.0.0.0/4', 'always', 'reserved / broadcast'),
  range('127.0.0.0/8', 'private', 'loopback'),
  range('10.0.0.0/8', 'private', 'private (RFC 1918)'),
  range('172.16.0.0/12', 'private', 'private (RFC 1918)'),
  range('192.168.0.0/16', 'private', 'private (RFC 1918)'),
  range('100.64.0.0/10', 'private', 'carrier-grade NAT (RFC 6598)'),
];

const V6: readonly Range[] = [
  range('::/128', 'always', 'unspecified address'),
  range('fd00:ec2::254/128', 'always', 'cloud metadata (AWS IPv6)'),
  range('fe80::/10', 'always', 'link-local'),
  range('fec0::/10', 'always', 'site-local (deprecated)'),
  range('ff00::/8', 'always', 'multicast'),
  range('100::/64', 'always', 'discard-only'),
  range('2001:db8::/32', 'always', 'documentation'),
  // Local-use NAT64 (RFC 8215): the operator picks where the IPv4 address sits in it, so which IPv4 host (metadata,
  // loopback) an address reaches cannot be told; never a tenant target. The well-known 64:ff9b::/96 (RFC 6052) is
  // judged by the IPv4 address it embeds (embeddedV4) before this table is read.
  range('64:ff9b:1::/48', 'always', 'local-use NAT64 (RFC 8215)'),
  // IPv4-compatible (deprecated, RFC 4291 2.5.5.1): no legitimate destination; ::1 and :: are matched first.
  range('::1/128', 'private', 'loopback'),
  range('::/96', 'always', 'IPv4-compatible IPv6 (deprecated)'),
  range('fc00::/7', 'private', 'unique local (ULA)'),
];

/** Bytes of an IPv4 (4) or IPv6 (16) literal in canonical text form (as `new URL` and DNS produce), else null. */
export function parseIp(s: string): Uint8Array | null {
  const host = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  const kind = isIP(host);
  if (kind === 4) return Uint8Array.from(host.split('.').map(Number));
  if (kind !== 6) return null;
  const zone = host.indexOf('%');
  let text = zone >= 0 ? host.slice(0, zone) : host;
  const out = new Uint8Array(16);
  // A trailing dotted quad (::ffff:1.2.3.4) becomes the last two groups.
  const dot = text.lastIndexOf('.');
  if (dot >= 0) {
    const colon = text.lastIndexOf(':');
    const q = text
      .slice(colon + 1)
      .split('.')
      .map(Number);
    text = `${text.slice(0, colon + 1)}${((q[0]! << 8) | q[1]!).toString(16)}:${((q[2]! << 8) | q[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const hs = head === '' ? [] : head.split(':');
  const ts = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...hs, ...new Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
  for (let i = 0; i < 8; i++) {
    const g = Number.parseInt(groups[i]!, 16);
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  }
  return out;
}

function matches(addr: Uint8Array, r: Range): boolean {
  if (addr.length !== r.bytes.length) return false;
  const full = r.bits >> 3;
  for (let i = 0; i < full; i++) if (addr[i] !== r.bytes[i]) return false;
  const rest = r.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (addr[full]! & mask) === (r.bytes[full]! & mask);
}

/**
 * The IPv4 address an IPv6 address carries and routes to, if any: IPv4-mapped ::ffff:0:0/96, NAT64
 * 64:ff9b::/96 (RFC 6052) and 6to4 2002::/16 (RFC 3056). Without this ::ffff:169.254.169.254 reaches metadata.
 */
function embeddedV4(a: Uint8Array): Uint8Array | null {
  if (a.length !== 16) return null;
  const zeros = (from: number, to: number) => a.subarray(from, to).every((b) => b === 0);
  if (zeros(0, 10) && a[10] === 0xff && a[11] === 0xff) return a.subarray(12, 16);
  if (a[0] === 0x00 && a[1] === 0x64 && a[2] === 0xff && a[3] === 0x9b && zeros(4, 12)) return a.subarray(12, 16);
  if (a[0] === 0x20 && a[1] === 0x02) return a.subarray(2, 6);
  return null;
}

/** The special range an address literal falls in (first match wins), or null for an ordinary public address. */
export function classifyIp(ip: string | Uint8Array): RangeHit | null {
  const bytes = typeof ip === 'string' ? parseIp(ip) : ip;
  if (!bytes) return null;
  const v4 = embeddedV4(bytes);
  if (v4) return classifyIp(v4);
  for (const r of bytes.length === 4 ? V4 : V6) {
    if (matches(bytes, r)) return { cls: r.cls, name: r.name, cidr: r.cidr };
  }
  return null;
}

/** A parsed CIDR (or a single address) for allow lists. */
export interface Cidr {
  bytes: Uint8Array;
  bits: number;
}

export function parseCidr(s: string): Cidr | null {
  const slash = s.indexOf('/');
  const bytes = parseIp(slash >= 0 ? s.slice(0, slash) : s);
  if (!bytes) return null;
  const max = bytes.length * 8;
  const bits = slash >= 0 ? Number(s.slice(slash + 1)) : max;
  if (!Number.isInteger(bits) || bits < 0 || bits > max) return null;
  return { bytes, bits };
}

/** Whether an address is inside a CIDR; an IPv4-mapped IPv6 address is compared as its IPv4 address. */
export function inCidr(ip: string | Uint8Array, c: Cidr): boolean {
  const raw = typeof ip === 'string' ? parseIp(ip) : ip;
  if (!raw) return false;
  const bytes = raw.length === 16 && c.bytes.length === 4 ? (embeddedV4(raw) ?? raw) : raw;
  return matches(bytes, { ...c, cidr: '', cls: 'always', name: '' });
}
