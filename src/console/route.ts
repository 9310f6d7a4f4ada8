import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { errorBody } from '../errors.js';

/**
 * GET /console: the web console (src/console/app), served from the assets `npm run build` wrote to dist/console.
 * Only the known files are served, read once at start (no path from the request ever touches the file system).
 * The page talks to the public API and /api/v1/events only, with the portal credentials it keeps in memory.
 */
const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.js.map': 'application/json; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/** Strict: scripts, styles and connections to this origin only; media from blob: (recordings, fetched with auth). */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self' ws: wss: blob:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export function defaultConsoleDir(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'dist', 'console');
    if (existsSync(path.join(candidate, 'index.html'))) return candidate;
    const here = path.join(dir, 'console');
    if (path.basename(dir) === 'dist' && existsSync(path.join(here, 'index.html'))) return here;
    dir = path.dirname(dir);
  }
  return undefined;
}

export function registerConsole(app: FastifyInstance, dir: string | undefined = defaultConsoleDir()): void {
  const assets = new Map<string, Buffer>();
  if (dir) {
    for (const name of Object.keys(FILES)) {
      const p = path.join(dir, name);
      if (existsSync(p)) assets.set(name, readFileSync(p));
    }
  }
  const send = (name: string) => async (_req: unknown, reply: FastifyReply) => {
    const body = assets.get(name);
    if (!body) {
      return reply.status(503).type('application/json; charset=utf-8').send(errorBody('CONSOLE_NOT_BUILT'));
    }
    return reply
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', name === 'index.html' ? 'no-cache' : 'public, max-age=300')
      .type(FILES[name] ?? 'application/octet-stream')
      .send(body);
  };
  const hide = { schema: { hide: true } };
  app.get('/console', hide, send('index.html'));
  app.get('/console/', hide, send('index.html'));
  for (const name of Object.keys(FILES)) app.get(`/console/${name}`, hide, send(name));
}
