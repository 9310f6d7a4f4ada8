import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent } from 'undici';
import {
  blockedName,
  checkAddress,
  checkHost,
  EgressBlockedError,
  type EgressPolicy,
  egressPolicyFromEnv,
  nameAllowed,
} from './policy.js';

// The policy and the syntactic checks live in policy.ts (no undici: config and API validation load it alone).
export { checkAddress, checkUrl, EgressBlockedError, type EgressPolicy, egressPolicyFromEnv } from './policy.js';

/**
 * The enforcing half of the egress policy (policy.ts): an SSRF-guarded fetch for every request whose URL a tenant
 * controls (webhook endpoints, carrier base URLs), checking at connect time the address DNS actually returned (so a
 * name that resolves, or later re-resolves, to 169.254.169.254 is refused), literal IP hosts, and every redirect hop.
 */

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
/** The shape of dns.lookup as net.connect calls it (the `lookup` socket option). */
export type LookupFn = (
  hostname: string,
  options: { family?: number | string; all?: boolean; hints?: number },
  callback: LookupCallback,
) => void;

const systemLookup: LookupFn = (hostname, options, callback) =>
  dnsLookup(hostname, { ...options, all: true } as { all: true }, (err, addresses) => callback(err, addresses ?? []));

/**
 * A `lookup` for net/tls.connect that refuses names resolving to a blocked address. Every address is checked,
 * not just the first: a name with one public and one metadata record is refused (the socket could pick either).
 */
export function createGuardedLookup(policy: EgressPolicy, baseLookup: LookupFn = systemLookup): LookupFn {
  return (hostname, options, callback) => {
    const blockedByName = nameAllowed(policy, hostname) ? null : blockedName(hostname, policy);
    if (blockedByName) return callback(new EgressBlockedError(`Egress refused: ${blockedByName}`), '', 0);
    baseLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list: LookupAddress[] = Array.isArray(addresses)
        ? addresses
        : [{ address: addresses, family: isIP(addresses) }];
      if (list.length === 0)
        return callback(Object.assign(new Error(`No address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      if (!nameAllowed(policy, hostname)) {
        for (const a of list) {
          const why = checkAddress(a.address, policy);
          if (why) return callback(new EgressBlockedError(`Egress refused: ${hostname} resolves to ${why}`), '', 0);
        }
      }
      if (options.all) callback(null, list);
      else callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

export interface GuardedFetchOptions {
  /** The resolver behind the guard (tests inject one; default dns.lookup). */
  lookup?: LookupFn;
  /** Redirect hops followed for redirect: 'follow' (each hop checked). Default 5. */
  maxRedirects?: number;
}

const REDIRECT = new Set([301, 302, 303, 307, 308]);

function blockedCause(err: unknown): EgressBlockedError | undefined {
  for (let e: unknown = err, i = 0; e instanceof Error && i < 5; e = e.cause, i++) {
    if (e instanceof EgressBlockedError) return e;
  }
  return undefined;
}

/**
 * A fetch that enforces the policy: the URL host is checked before the request, the resolved address at connect
 * time (an undici Agent whose `connect.lookup` is the guarded lookup), and redirects are followed by hand (at
 * most maxRedirects) so each hop passes the same checks. Refusals reject with EgressBlockedError.
 * `baseFetch` must accept undici's `dispatcher` init field (Node's global fetch does).
 */
export function createGuardedFetch(
  policy: EgressPolicy,
  baseFetch: typeof fetch = fetch,
  options: GuardedFetchOptions = {},
): typeof fetch {
  const dispatcher = new Agent({ connect: { lookup: createGuardedLookup(policy, options.lookup) } });
  const maxRedirects = options.maxRedirects ?? 5;

  function precheck(url: string): void {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new EgressBlockedError(`Egress refused: scheme ${u.protocol} is not allowed`);
    }
    const why = checkHost(u.hostname, policy);
    if (why) throw new EgressBlockedError(`Egress refused: ${why}`);
  }

  async function once(input: string | Request, init: RequestInit): Promise<Response> {
    precheck(typeof input === 'string' ? input : input.url);
    try {
      return await baseFetch(input, { ...init, redirect: 'manual', dispatcher } as RequestInit);
    } catch (err) {
      throw blockedCause(err) ?? err;
    }
  }

  return async (input, init = {}) => {
    const first: string | Request = input instanceof Request ? input : String(input);
    const mode = init.redirect ?? (input instanceof Request ? input.redirect : 'follow');
    let res = await once(first, init);
    if (mode === 'manual' || !REDIRECT.has(res.status)) return res;
    if (mode === 'error') throw new TypeError(`fetch failed: redirect (${res.status}) with redirect: 'error'`);
    let url = typeof first === 'string' ? first : first.url;
    let method = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    let body = init.body;
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    for (let hop = 0; REDIRECT.has(res.status); hop++) {
      const location = res.headers.get('location');
      if (!location) return res;
      if (hop >= maxRedirects) throw new TypeError(`fetch failed: more than ${maxRedirects} redirects`);
      await res.body?.cancel();
      const next = new URL(location, url);
      // Fetch spec 4.4 (HTTP-redirect fetch): 303, and 301/302 after POST, become a bodiless GET.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        body = undefined;
        headers.delete('content-type');
        headers.delete('content-length');
      } else if (body instanceof ReadableStream || (body === undefined && input instanceof Request && input.body)) {
        // 307/308 resend the body; a stream (or a Request's own body) was consumed by the first hop.
        throw new TypeError('fetch failed: cannot replay a streamed body on redirect');
      }
      // Credentials stay with the origin they were meant for.
      if (next.origin !== new URL(url).origin) {
        headers.delete('authorization');
        headers.delete('cookie');
      }
      url = next.href;
      const { dispatcher: _d, body: _b, ...rest } = init as RequestInit & { dispatcher?: unknown };
      res = await once(url, { ...rest, method, headers, ...(body === undefined ? {} : { body }) });
    }
    return res;
  };
}

let shared: typeof fetch | undefined;

/** A guarded fetch with the policy from the process environment: the default of the tenant-URL HTTP clients. */
export function defaultGuardedFetch(): typeof fetch {
  shared ??= createGuardedFetch(egressPolicyFromEnv());
  return shared;
}
