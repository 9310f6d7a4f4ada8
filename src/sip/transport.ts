import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { MAX_SIP_MESSAGE, parseSip, type SipMessage, SipParseError } from './message.js';

/**
 * SIP over UDP and TCP on one port (RFC 3261 section 18). UDP: one message per datagram. TCP: messages framed by
 * the end of headers and Content-Length (18.3), a connection buffer bounded by MAX_SIP_MESSAGE, a bounded number
 * of connections, idle connections closed. Responses go back where the request came from (the datagram's source,
 * the same TCP connection: RFC 3581 symmetric response routing, which is what callers behind NAT need).
 * Malformed input is counted and dropped; a TCP peer that sends garbage is disconnected.
 */
export interface Peer {
  proto: 'udp' | 'tcp' | 'tls';
  address: string;
  port: number;
  /** The TCP connection the message came on. */
  socket?: net.Socket;
}

export interface TransportStats {
  received: number;
  malformed: number;
  tcpConnections: number;
}

const MAX_TCP_CONNECTIONS = 512;
const TCP_IDLE_MS = 120_000;

export class SipTransport {
  readonly stats: TransportStats = { received: 0, malformed: 0, tcpConnections: 0 };
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  private tls: tls.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly onMessage: (msg: SipMessage, peer: Peer) => void,
    private readonly onMalformed: (peer: Peer, reason: string) => void,
  ) {}

  /** Binds UDP and TCP on the same port (port 0: the UDP socket's free port, then TCP on it). */
  async listen(host: string, port: number): Promise<number> {
    const udp = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', () => undefined);
    udp.on('message', (buf, rinfo) => this.receive(buf, { proto: 'udp', address: rinfo.address, port: rinfo.port }));
    this.udp = udp;
    const bound = udp.address().port;
    const tcp = net.createServer((s) => this.onConnection(s));
    tcp.maxConnections = MAX_TCP_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(bound, host, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    this.tcp = tcp;
    return bound;
  }

  private receive(buf: Buffer, peer: Peer): void {
    // Keep-alives (RFC 5626 CRLF) and empty datagrams.
    if (buf.length <= 4 && buf.toString('latin1').trim() === '') return;
    let msg: SipMessage;
    try {
      msg = parseSip(buf);
    } catch (err) {
      this.stats.malformed++;
      this.onMalformed(peer, err instanceof SipParseError ? err.message : 'unparsable');
      return;
    }
    this.stats.received++;
    this.onMessage(msg, peer);
  }

  /** SIP over TLS (RFC 3261 26.2, `sips:` / transport=tls) on its own port, with the given certificate and key. */
  async listenTls(host: string, port: number, creds: { cert: Buffer; key: Buffer }): Promise<number> {
    const server = tls.createServer({ cert: creds.cert, key: creds.key }, (s) => this.onConnection(s, 'tls'));
    server.maxConnections = MAX_TCP_CONNECTIONS;
    server.on('tlsClientError', () => {
      this.stats.malformed++;
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.tls = server;
    return (server.address() as net.AddressInfo).port;
  }

  /**
   * A connection of ours to a peer (a trunk over TCP or TLS), framed and read like an accepted one. TLS checks the
   * peer's certificate against `servername` (the system CAs, plus `ca` when given).
   */
  async connect(host: string, port: number, servername?: string, ca?: Buffer): Promise<Peer> {
    const s =
      servername === undefined
        ? net.connect(port, host)
        : tls.connect({ host, port, servername, ...(ca ? { ca: [...tls.rootCertificates, ca.toString()] } : {}) });
    await new Promise<void>((resolve, reject) => {
      s.once(servername === undefined ? 'connect' : 'secureConnect', resolve);
      s.once('error', reject);
    });
    s.removeAllListeners('error');
    return this.onConnection(s, servername === undefined ? 'tcp' : 'tls');
  }

  private onConnection(s: net.Socket, proto: 'tcp' | 'tls' = 'tcp'): Peer {
    this.sockets.add(s);
    this.stats.tcpConnections++;
    s.setTimeout(TCP_IDLE_MS, () => s.destroy());
    s.on('error', () => s.destroy());
    s.on('close', () => this.sockets.delete(s));
    const peer: Peer = { proto, address: s.remoteAddress ?? '', port: s.remotePort ?? 0, socket: s };
    let buf: Buffer = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        while (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) buf = buf.subarray(2); // CRLF keep-alive
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buf.length > MAX_SIP_MESSAGE) this.dropConnection(s, peer, 'headers too large');
          return;
        }
        const m = /\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)/i.exec(buf.toString('latin1', 0, end + 2));
        if (!m) {
          this.dropConnection(s, peer, 'no Content-Length on a stream transport');
          return;
        }
        const total = end + 4 + Number(m[1]);
        if (total > MAX_SIP_MESSAGE) {
          this.dropConnection(s, peer, 'message too large');
          return;
        }
        if (buf.length < total) return;
        const one = buf.subarray(0, total);
        buf = buf.subarray(total);
        this.receive(Buffer.from(one), peer);
        if (s.destroyed) return;
      }
    });
    return peer;
  }

  private dropConnection(s: net.Socket, peer: Peer, reason: string): void {
    this.stats.malformed++;
    this.onMalformed(peer, reason);
    s.destroy();
  }

  send(data: Buffer, peer: Peer): void {
    if (peer.proto !== 'udp') {
      if (peer.socket && !peer.socket.destroyed) peer.socket.write(data);
      return;
    }
    this.udp?.send(data, peer.port, peer.address);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all([
      new Promise<void>((r) => (this.udp ? this.udp.close(() => r()) : r())),
      new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r())),
      new Promise<void>((r) => (this.tls ? this.tls.close(() => r()) : r())),
    ]);
  }
}
