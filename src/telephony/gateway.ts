import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { ProtocolAdapter } from './adapter.js';
import { CloseCode } from './close-codes.js';
import { type ConnectionShared, MediaConnection } from './connection.js';
import {
  DEFAULT_LIMITS,
  type Gateway,
  type GatewayDeps,
  type GatewayLimits,
  type GatewayStats,
} from './gateway-types.js';
import { Pacer } from './pacer.js';
import { PROTOCOLS } from './protocols.js';

/**
 * The media WebSocket endpoints (DESIGN.md section 4): `/media/<protocol>` and `/media/<protocol>/<assistantApiKey>`
 * on the engine's HTTP server. Any other upgrade path, or an unknown protocol, gets an HTTP 404 and the socket is
 * destroyed. The assistant is resolved when the start message (or connection metadata) arrives, by deps.resolve:
 * key in the path, then `assistantApiKey` from the start message, then number routing of the called number.
 * One shared pacer clocks the outbound audio of every call.
 */
export type {
  ControlFor,
  Gateway,
  GatewayDeps,
  GatewayLimits,
  GatewayStats,
  ResolvedCall,
  ResolveRequest,
  ResolveResult,
} from './gateway-types.js';
export { DEFAULT_LIMITS } from './gateway-types.js';

const PATH = /^\/media\/([a-z]+)(?:\/([^/?#]+))?\/?$/;

export function attachGateway(server: http.Server, deps: GatewayDeps): Gateway {
  const limits: GatewayLimits = { ...DEFAULT_LIMITS, ...deps.limits };
  const pacer = deps.pacer ?? new Pacer();
  const logger = deps.logger;
  const conns = new Set<MediaConnection>();
  const adapters = new WeakMap<http.IncomingMessage, ProtocolAdapter>();
  let draining = false;
  let closing = false;
  const totals = {
    accepted: 0,
    notFound: 0,
    refusedPending: 0,
    malformed: 0,
    framesIn: 0,
    framesOut: 0,
    dropped: 0,
    gaps: 0,
  };
  const closes: Record<string, number> = {};
  let live = 0;
  const clientIp = deps.clientIp ?? ((req: http.IncomingMessage) => req.socket.remoteAddress ?? '');
  /** Sockets per client IP that have not started a call yet (not authenticated). */
  const pendingByIp = new Map<string, number>();
  const unpend = (ip: string): void => {
    const n = (pendingByIp.get(ip) ?? 1) - 1;
    if (n <= 0) pendingByIp.delete(ip);
    else pendingByIp.set(ip, n);
  };

  const wss = new WebSocketServer({
    noServer: true,
    // Between maxMessageBytes and maxPayload our own check closes 4009 with a reason; past maxPayload ws stops
    // reading the frame and closes 1009 itself, so a peer can make a socket buffer at most this much.
    maxPayload: limits.maxMessageBytes * 2,
    perMessageDeflate: false,
    handleProtocols: (offered, req) => {
      const adapter = adapters.get(req);
      for (const p of adapter?.subprotocols ?? []) if (offered.has(p)) return p;
      return false;
    },
  });

  const shared: ConnectionShared = {
    deps,
    limits,
    pacer,
    logger,
    echoTap: deps.echoTap,
    onLive: (conn) => {
      live++;
      totals.accepted++;
      if (conn.pendingIp !== undefined) unpend(conn.pendingIp);
      conn.pendingIp = undefined;
    },
    onClosed: (conn, code) => {
      if (!conns.delete(conn)) return;
      if (conn.pendingIp !== undefined) unpend(conn.pendingIp);
      conn.pendingIp = undefined;
      if (conn.legStats) live--;
      closes[code] = (closes[code] ?? 0) + 1;
      totals.malformed += conn.badCount;
      const s = conn.legStats;
      if (s) {
        totals.framesIn += s.framesIn;
        totals.framesOut += s.framesOut;
        totals.dropped += s.dropped;
        totals.gaps += s.gaps;
      }
    },
  };

  const reject = (socket: Duplex, status: number, text: string): void => {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.destroy();
  };

  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const m = PATH.exec(path);
    const factory = m ? PROTOCOLS[m[1]!] : undefined;
    if (!m || !factory || closing) {
      totals.notFound++;
      reject(socket, 404, 'Not Found');
      return;
    }
    let pathKey: string | undefined;
    try {
      pathKey = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    } catch {
      reject(socket, 404, 'Not Found');
      return;
    }
    const ip = clientIp(req);
    const pending = pendingByIp.get(ip) ?? 0;
    if (pending >= limits.maxPendingPerIp) {
      totals.refusedPending++;
      reject(socket, 429, 'Too Many Requests');
      return;
    }
    pendingByIp.set(ip, pending + 1);
    const adapter = factory({ query: new URLSearchParams(q >= 0 ? url.slice(q + 1) : '') });
    adapters.set(req, adapter);
    let upgraded = false;
    socket.on('error', () => socket.destroy());
    // A handshake that fails (bad headers, peer gone) never reaches the callback: free its pending slot.
    socket.once('close', () => {
      if (!upgraded) unpend(ip);
    });
    wss.handleUpgrade(req, socket, head, (ws) => {
      upgraded = true;
      const conn = new MediaConnection(ws, req, adapter, pathKey, shared, ip);
      conn.pendingIp = ip;
      conns.add(conn);
      if (draining) conn.close(CloseCode.SHUTDOWN, 'server draining: no new streams');
    });
  };
  server.on('upgrade', onUpgrade);

  // One sweep for idle connections, not a timer per call.
  const sweep = setInterval(
    () => {
      const now = pacer.now();
      for (const c of conns) {
        if (c.awaitingStart && now - c.openedAt > limits.startTimeoutMs) {
          c.close(CloseCode.IDLE, `no start message within ${limits.startTimeoutMs} ms`);
        } else if (now - c.lastMessageAt > limits.idleTimeoutMs) {
          c.close(CloseCode.IDLE, `no message for ${limits.idleTimeoutMs} ms`);
        } else if (c.resolving && now - c.resolvingSince > limits.resolveTimeoutMs) {
          logger.error({ protocol: c.protocol }, 'assistant resolution timed out');
          c.close(CloseCode.INTERNAL, 'assistant resolution timed out');
        }
      }
    },
    Math.min(1000, Math.max(50, Math.min(limits.idleTimeoutMs, limits.resolveTimeoutMs, limits.startTimeoutMs) / 4)),
  );
  sweep.unref();

  return {
    get activeCalls() {
      return live;
    },
    drain() {
      draining = true;
    },
    async close() {
      draining = true;
      closing = true;
      clearInterval(sweep);
      server.off('upgrade', onUpgrade);
      for (const c of [...conns]) c.close(CloseCode.SHUTDOWN, 'server shutting down');
      // Give peers a moment to answer the close handshake, then cut what is left.
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          for (const ws of wss.clients) ws.terminate();
          resolve();
        }, 1000);
        t.unref();
        if (wss.clients.size === 0) {
          clearTimeout(t);
          resolve();
          return;
        }
        let left = wss.clients.size;
        for (const ws of wss.clients) {
          ws.once('close', () => {
            if (--left === 0) {
              clearTimeout(t);
              resolve();
            }
          });
        }
      });
      if (!deps.pacer) pacer.stop();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
    stats(): GatewayStats {
      const s: GatewayStats = {
        activeCalls: live,
        connections: conns.size,
        accepted: totals.accepted,
        closes: { ...closes },
        notFound: totals.notFound,
        refusedPending: totals.refusedPending,
        pending: [...pendingByIp.values()].reduce((a, b) => a + b, 0),
        malformed: totals.malformed,
        framesIn: totals.framesIn,
        framesOut: totals.framesOut,
        dropped: totals.dropped,
        gaps: totals.gaps,
        pacerMaxLateMs: pacer.maxTickLateMs,
      };
      for (const c of conns) {
        s.malformed += c.badCount;
        const l = c.legStats;
        if (l) {
          s.framesIn += l.framesIn;
          s.framesOut += l.framesOut;
          s.dropped += l.dropped;
          s.gaps += l.gaps;
        }
      }
      return s;
    },
  };
}
