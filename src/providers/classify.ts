/**
 * Error classification for adapters: every SDK / socket / process failure becomes one ProviderError with a stable
 * code, so that retry and fallback are decided in one place (src/providers/resilience.ts). Messages are scrubbed
 * of secrets: no API key ever reaches an error message or a log line.
 */
import type { IncomingMessage } from 'node:http';
import { ProviderError, type ProviderErrorCode, type ProviderKind } from './types.js';

/** Replace every occurrence of a secret in `text`. */
export function scrub(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

/** Retry-After: delta-seconds or an HTTP date (RFC 9110 section 10.2.3); also OpenAI's retry-after-ms. */
export function parseRetryAfter(value: string | null | undefined, valueMs?: string | null): number | undefined {
  if (valueMs) {
    const ms = Number(valueMs);
    if (Number.isFinite(ms) && ms >= 0) return ms;
  }
  if (!value) return undefined;
  const s = Number(value);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/**
 * Error names that mean "the account is out of credit" rather than "slow down": OpenAI's 429 `insufficient_quota`,
 * ElevenLabs' `quota_exceeded` (a 401 on HTTP, a 1008 close on the WebSocket), Deepgram's 402 credit errors.
 * Retrying them only burns the retry budget; the next provider in the chain may still answer.
 */
const QUOTA = /insufficient_quota|quota_exceeded|ASR_PAYMENT_REQUIRED|INSUFFICIENT_CREDITS|payment required/i;

export function isQuota(text: string | undefined): boolean {
  return text !== undefined && QUOTA.test(text);
}

export function codeForStatus(status: number, detail?: string): ProviderErrorCode {
  if (status === 402 || isQuota(detail)) return 'quota';
  if (status === 401 || status === 403) return 'auth';
  if (status === 429) return 'rate_limited';
  if (status === 408) return 'timeout';
  if (status >= 500) return 'server';
  return 'bad_request';
}

export interface ClassifyContext {
  provider: string;
  kind: ProviderKind;
  secrets?: readonly (string | undefined)[];
}

function headerGetter(h: unknown): (name: string) => string | null | undefined {
  if (!h) return () => undefined;
  if (typeof (h as Headers).get === 'function') return (n) => (h as Headers).get(n);
  return (n) => {
    const v = (h as Record<string, unknown>)[n];
    return typeof v === 'string' ? v : undefined;
  };
}

/** Turns anything thrown by an SDK, fetch, ws or a child process into a ProviderError. */
export function classify(err: unknown, ctx: ClassifyContext): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (err ?? {}) as {
    name?: string;
    message?: string;
    status?: number;
    statusCode?: number;
    code?: string;
    headers?: unknown;
    rawResponse?: { headers?: unknown };
    cause?: unknown;
    /** openai SDK: error.type / error.code of the body; ElevenLabs SDK: the body itself */
    type?: string;
    error?: { type?: string; code?: string };
    body?: { detail?: { status?: string } | string };
  };
  const secrets = ctx.secrets ?? [];
  const message = scrub(String(e.message ?? err), secrets).slice(0, 500);
  const base = { provider: ctx.provider, kind: ctx.kind };
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (e.name === 'AbortError' || e.name === 'APIUserAbortError' || e.code === 'ABORT_ERR') {
    return new ProviderError({ ...base, code: 'aborted', message: 'aborted' }, { cause: err });
  }
  if (status !== undefined && status >= 400) {
    const get = headerGetter(e.headers ?? e.rawResponse?.headers);
    const detail = typeof e.body?.detail === 'object' ? e.body.detail.status : e.body?.detail;
    const name = [e.code, e.type, e.error?.code, e.error?.type, detail].filter(Boolean).join(' ');
    return new ProviderError(
      {
        ...base,
        code: codeForStatus(status, name),
        status,
        message: `${ctx.provider} ${ctx.kind}: HTTP ${status}: ${message}`,
        retryAfterMs:
          status === 429 && !isQuota(name) ? parseRetryAfter(get('retry-after'), get('retry-after-ms')) : undefined,
      },
      { cause: err },
    );
  }
  if (e.name === 'APIConnectionTimeoutError' || e.name?.includes('Timeout') || e.code === 'ETIMEDOUT') {
    return new ProviderError(
      { ...base, code: 'timeout', message: `${ctx.provider} ${ctx.kind}: timed out` },
      { cause: err },
    );
  }
  if (err instanceof SyntaxError || /JSON|Unexpected (token|end)/i.test(message)) {
    return new ProviderError(
      { ...base, code: 'malformed', message: `${ctx.provider} ${ctx.kind}: malformed response: ${message}` },
      { cause: err },
    );
  }
  return new ProviderError(
    { ...base, code: 'connection', message: `${ctx.provider} ${ctx.kind}: ${message}` },
    { cause: err },
  );
}

export function unavailable(provider: string, kind: ProviderKind, message: string): ProviderError {
  return new ProviderError({ provider, kind, code: 'unavailable', message, retryable: false });
}

export function abortedError(provider: string, kind: ProviderKind): ProviderError {
  return new ProviderError({ provider, kind, code: 'aborted', message: 'aborted' });
}

/**
 * A refused WebSocket upgrade (ws 'unexpected-response') -> ProviderError, once its body has arrived: the body names
 * a quota error (ElevenLabs quota_exceeded, Deepgram credits) that the status alone does not.
 */
export function upgradeRejection(
  res: IncomingMessage,
  ctx: ClassifyContext & { what: string },
  onError: (err: ProviderError) => void,
): void {
  const status = res.statusCode ?? 500;
  const retryAfter = parseRetryAfter(res.headers['retry-after'] as string | undefined);
  let body = '';
  res.on('data', (c: Buffer) => {
    if (body.length < 4096) body += c.toString('utf8');
  });
  res.on('end', () =>
    onError(
      new ProviderError({
        provider: ctx.provider,
        kind: ctx.kind,
        code: codeForStatus(status, body),
        status,
        message: `${ctx.provider} ${ctx.kind}: HTTP ${status} at ${ctx.what} connect`,
        retryAfterMs: status === 429 ? retryAfter : undefined,
      }),
    ),
  );
}
