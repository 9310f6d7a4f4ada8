import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorBody } from '../errors.js';

/**
 * GET /metrics: Prometheus text, on the engine's port or on its own (METRICS_PORT, so that it need not be exposed
 * where the API is), optionally behind `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time).
 */
export interface MetricsEndpoint {
  contentType: string;
  render(): Promise<string>;
  /** METRICS_TOKEN; unset: no auth (keep the port private). */
  token?: string;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time: both sides are hashed to 32 bytes first, so even their lengths are not compared early. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return timingSafeEqual(digest(m?.[1] ?? ''), digest(token)) && !!m;
}

export async function scrape(
  ep: MetricsEndpoint,
  authorization: string | undefined,
): Promise<{ status: number; contentType: string; body: string }> {
  if (ep.token !== undefined && !bearerMatches(authorization, ep.token)) {
    return {
      status: 401,
      contentType: 'application/json; charset=utf-8',
      body: JSON.stringify(errorBody('UNAUTHORIZED', 'metrics need Authorization: Bearer <METRICS_TOKEN>')),
    };
  }
  return { status: 200, contentType: ep.contentType, body: await ep.render() };
}

/** A plain HTTP server that answers GET /metrics only (METRICS_PORT). */
export async function startMetricsServer(
  ep: MetricsEndpoint,
  port: number,
  host: string,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(errorBody('NOT_FOUND', 'only GET /metrics is served on this port')));
      return;
    }
    scrape(ep, req.headers.authorization).then(
      (r) => {
        res.writeHead(r.status, { 'content-type': r.contentType });
        res.end(r.body);
      },
      () => {
        res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(errorBody('INTERNAL', 'metrics collection failed')));
      },
    );
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
