import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import type { LiveCall, LiveCallEvent } from '../../observability/index.js';

/**
 * GET /api/v1/events: the tenant's live call events as server-sent events (text/event-stream), for the console
 * and for users' own dashboards. Authenticated like every business route (x-client-email + x-portal-api-key, or
 * Bearer), so a client reads it with fetch() and a streaming body (EventSource cannot send headers; no cookie is
 * ever involved, which keeps it CSRF-safe). Only the authenticated tenant's calls are ever written.
 *
 *   event: snapshot   data: {"calls":[LiveCall…]}           first, the calls in progress on this engine
 *   event: <type>     data: {"callId","type","data"}       call.started, state, transcript, turn, tool, dtmf,
 *                                                            incident, update, call.ended
 *   : ping                                                  every 15 s, so proxies keep the stream open
 *
 * With several engines, each stream carries the calls of the engine it is connected to (README, scale-out).
 */
export interface LiveEventsSource {
  subscribe(tenantId: string, listener: (e: LiveCallEvent) => void): () => void;
  liveCalls(tenantId: string): LiveCall[];
}

const PING_MS = 15_000;
/** A reader this far behind (bytes not yet flushed to the socket) is dropped rather than buffered without end. */
const MAX_BUFFERED_BYTES = 1 << 20;

export function eventRoutes(source: LiveEventsSource): FastifyPluginAsync {
  return async (app) => {
    // Open streams end when the app closes, so a shutdown never waits on a console left open.
    const open = new Set<ServerResponse>();
    app.addHook('preClose', async () => {
      for (const res of open) res.end();
    });
    app.get(
      '/api/v1/events',
      {
        schema: {
          tags: ['Calls'],
          summary: 'Live call events (server-sent events)',
          description:
            "A text/event-stream of the account's live call events: a `snapshot` of calls in progress, then one event per call start, state change, transcript line, turn (with its latency breakdown), tool call, DTMF, incident and end.",
          produces: ['text/event-stream'],
        },
      },
      async (request, reply) => {
        const tenantId = request.tenant.id;
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
          'x-request-id': request.id,
        });
        open.add(res);
        const send = (event: string, data: unknown) => {
          if (res.writableLength > MAX_BUFFERED_BYTES) {
            res.destroy();
            return;
          }
          res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        };
        send('snapshot', { calls: source.liveCalls(tenantId) });
        const unsubscribe = source.subscribe(tenantId, (e) => {
          if (e.tenantId !== tenantId) return;
          send(e.type, { callId: e.callId, type: e.type, data: e.data });
        });
        const ping = setInterval(() => res.write(': ping\n\n'), PING_MS);
        ping.unref();
        const stop = () => {
          open.delete(res);
          clearInterval(ping);
          unsubscribe();
        };
        res.on('close', stop);
        request.raw.on('close', stop);
      },
    );
  };
}
