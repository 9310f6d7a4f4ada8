import type { HttpToolConfig } from '../assistant.js';
import { defaultGuardedFetch } from '../net/egress.js';
import { traceHeaders } from '../observability/trace-context.js';
import { fillJson, fillText } from './template.js';
import type { Tool, ToolResult } from './types.js';

/**
 * HTTP tools from assistant.tools.http: the model's arguments fill {{arg}} placeholders in the URL, headers and
 * body template; GET/DELETE without a body template send the arguments as a query string. The response body (cut
 * to MAX_RESULT_CHARS so one tool cannot flood the context) goes back to the model; a timeout or non-2xx status is an
 * error result, never an exception.
 */
const MAX_RESULT_CHARS = 4000;

export function httpTool(cfg: HttpToolConfig): Tool {
  const method = cfg.method ?? 'POST';
  const timeoutMs = cfg.timeoutMs ?? 10_000;
  const parameters = cfg.parameters ?? { type: 'object', properties: {} };
  return {
    name: cfg.name,
    description: cfg.description,
    parameters,
    filler: cfg.filler,
    async run(args, ctx): Promise<ToolResult> {
      if (cfg.say) ctx.say?.(fillText(cfg.say.text, args), { uninterruptible: cfg.say.uninterruptible !== false });
      let url = fillText(cfg.url, args, encodeURIComponent);
      // W3C trace context first, so a tenant header of the same name wins (their tracing, their choice).
      const headers: Record<string, string> = { ...traceHeaders(ctx.callId) };
      for (const [k, v] of Object.entries(cfg.headers ?? {})) headers[k] = fillText(v, args);
      if (cfg.auth) {
        const a = cfg.auth;
        if (a.type === 'bearer' && a.token) headers.authorization = `Bearer ${a.token}`;
        else if (a.type === 'basic') {
          headers.authorization = `Basic ${Buffer.from(`${a.username ?? ''}:${a.password ?? ''}`).toString('base64')}`;
        } else if (a.type === 'header' && a.header && a.token) headers[a.header.toLowerCase()] = a.token;
      }
      let body: string | undefined;
      if (cfg.body !== undefined) {
        body = fillJson(cfg.body, args);
      } else if (method === 'GET' || method === 'DELETE') {
        const q = new URLSearchParams();
        for (const [k, v] of Object.entries(args)) q.set(k, typeof v === 'string' ? v : JSON.stringify(v));
        const qs = q.toString();
        if (qs) url += (url.includes('?') ? '&' : '?') + qs;
      } else {
        body = JSON.stringify(args);
      }
      if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
        headers['content-type'] = 'application/json';
      }
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]);
      try {
        // Tenant-controlled URL: the SSRF-guarded fetch (cloud metadata and, with EGRESS_BLOCK_PRIVATE, private
        // ranges refused at connect time, every redirect hop checked).
        const res = await defaultGuardedFetch()(url, { method, headers, body, signal });
        const text = await res.text();
        const content = text.length > MAX_RESULT_CHARS ? `${text.slice(0, MAX_RESULT_CHARS)}…` : text;
        if (!res.ok) return { ok: false, content: JSON.stringify({ error: `HTTP ${res.status}`, body: content }) };
        return { ok: true, content: content || JSON.stringify({ status: res.status }) };
      } catch (err) {
        const e = err as Error;
        const reason =
          e.name === 'TimeoutError'
            ? `timed out after ${timeoutMs} ms`
            : e.name === 'AbortError'
              ? 'cancelled'
              : e.message;
        return { ok: false, content: JSON.stringify({ error: reason }) };
      }
    },
  };
}
