import { EgressBlockedError } from '../net/egress.js';
import { retry } from '../retry.js';

/**
 * One REST request to a telephony platform's call-control API, retried once on a 5xx or a network failure (the
 * platform may have been restarting; a second failure is reported). Errors name the platform, the operation, the
 * HTTP status and the platform's own error code, never the URL's credentials, headers or the response text (which
 * may echo them).
 */
export class CallControlError extends Error {
  readonly platform: string;
  readonly status?: number;
  readonly code?: string;
  constructor(platform: string, op: string, detail: string, status?: number, code?: string) {
    super(`${platform} ${op} failed: ${detail}`);
    this.name = 'CallControlError';
    this.platform = platform;
    this.status = status;
    this.code = code;
  }
}

export interface ControlRequest {
  platform: string;
  /** hangup | transfer: for error messages. */
  op: string;
  method: 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** Built again for the retry (a Vonage JWT carries a fresh jti). */
  refreshHeaders?(): Record<string, string>;
}

export interface ControlResponse {
  status: number;
  /** Parsed JSON body, or {} when empty / not JSON. */
  body: Record<string, unknown>;
}

/** Per attempt, ms. Long enough for a slow carrier API, short enough that a hung call still ends. */
const TIMEOUT_MS = 10_000;

export async function controlRequest(req: ControlRequest, doFetch: typeof fetch): Promise<ControlResponse> {
  let refused = false;
  // Two tries, the second at once (a 5xx or an unreachable platform); a refused destination is not tried again.
  return retry(
    async (attempt) => {
      const headers = attempt > 1 && req.refreshHeaders ? req.refreshHeaders() : req.headers;
      let res: Response;
      try {
        res = await doFetch(req.url, {
          method: req.method,
          headers,
          ...(req.body === undefined ? {} : { body: req.body }),
          signal: AbortSignal.timeout(TIMEOUT_MS),
          redirect: 'error',
        });
      } catch (err) {
        // A destination the egress policy refuses (src/net/egress.ts) stays refused: no retry.
        if (err instanceof EgressBlockedError) {
          refused = true;
          throw new CallControlError(req.platform, req.op, 'refused by the egress policy (blocked address range)');
        }
        // Only the error's name: undici messages can carry the URL.
        throw new CallControlError(req.platform, req.op, `unreachable (${(err as Error).name})`);
      }
      const text = await res.text().catch(() => '');
      let body: Record<string, unknown> = {};
      try {
        const v: unknown = text ? JSON.parse(text) : {};
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) body = v as Record<string, unknown>;
      } catch {
        // Proxies answer HTML; the status says enough.
      }
      if (res.status >= 500) {
        throw new CallControlError(req.platform, req.op, `HTTP ${res.status}`, res.status, errorCode(body));
      }
      return { status: res.status, body };
    },
    { backoff: 0, maxAttempts: 2, retryable: () => !refused },
  );
}

/** The platform's error code: Twilio/Plivo `code`, Telnyx `errors[0].code`, Vonage `type` (a URL), as a string. */
export function errorCode(body: Record<string, unknown>): string | undefined {
  const pick = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
  if (Array.isArray(body.errors) && body.errors.length > 0) {
    const e = body.errors[0] as Record<string, unknown> | null;
    if (e && typeof e === 'object') return pick(e.code);
  }
  return pick(body.code) ?? pick(body.error_code);
}

/** A failed answer as an error: status and platform code only. */
export function failed(req: ControlRequest, res: ControlResponse): CallControlError {
  const code = errorCode(res.body);
  return new CallControlError(
    req.platform,
    req.op,
    `HTTP ${res.status}${code ? ` (code ${code})` : ''}`,
    res.status,
    code,
  );
}

/** A path segment: percent-encoded, but ':' and '@' kept (RFC 3986 pchar), as in Telnyx `v3:` call control ids. */
export function segment(s: string): string {
  return encodeURIComponent(s).replace(/%3A/gi, ':').replace(/%40/g, '@');
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
