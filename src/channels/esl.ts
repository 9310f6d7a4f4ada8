import { createConnection, type LookupFunction, type Socket } from 'node:net';

/** Event headers are URL-encoded; reply headers usually are not, and a stray '%' must not throw. */
function decode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** One Event Socket message: headers, then a body of Content-Length bytes when present. */
export interface EslMessage {
  headers: Record<string, string>;
  body: string;
}

/**
 * Incremental parser for the FreeSWITCH Event Socket wire format: `Name: value` header lines ending with a blank
 * line, followed by `Content-Length` bytes of body. Consumes bytes only when a whole message is buffered.
 */
export class EslParser {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): EslMessage[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: EslMessage[] = [];
    for (;;) {
      const end = this.buf.indexOf('\n\n');
      if (end < 0) break;
      const headers: Record<string, string> = {};
      for (const line of this.buf.subarray(0, end).toString('utf8').split('\n')) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim()] = decode(line.slice(i + 1).trim());
      }
      const len = Number(headers['Content-Length'] ?? 0);
      if (this.buf.length < end + 2 + len) break;
      out.push({ headers, body: this.buf.subarray(end + 2, end + 2 + len).toString('utf8') });
      this.buf = this.buf.subarray(end + 2 + len);
    }
    return out;
  }
}

/**
 * A minimal inbound ESL session: connect, answer `auth/request` with the password, then send commands one at a
 * time and read their `command/reply` or `api/response`.
 *
 *   engine                     FreeSWITCH :8021
 *     | <--- Content-Type: auth/request
 *     | auth <password> --->
 *     | <--- command/reply  Reply-Text: +OK accepted
 *     | bgapi originate … --->
 *     | <--- command/reply  Reply-Text: +OK Job-UUID: …
 *     | exit --->
 */
export class EslClient {
  private readonly parser = new EslParser();
  private readonly queue: EslMessage[] = [];
  private waiter: ((m: EslMessage | Error) => void) | undefined;
  private error: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      for (const m of this.parser.push(c)) {
        // Events we did not subscribe to (and log lines) are not replies: skip them.
        const type = m.headers['Content-Type'];
        if (
          type !== 'auth/request' &&
          type !== 'command/reply' &&
          type !== 'api/response' &&
          type !== 'text/disconnect-notice'
        )
          continue;
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = undefined;
          w(m);
        } else this.queue.push(m);
      }
    });
    const fail = (err: Error) => {
      this.error = err;
      const w = this.waiter;
      this.waiter = undefined;
      w?.(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('ESL connection closed')));
  }

  /** `lookup`: the resolver for `host` (the egress guard's, which refuses blocked addresses at connect time). */
  static async connect(
    host: string,
    port: number,
    password: string,
    timeoutMs = 10_000,
    lookup?: LookupFunction,
  ): Promise<EslClient> {
    const socket = createConnection({ host, port, ...(lookup ? { lookup } : {}) });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`ESL timeout after ${timeoutMs} ms`)));
    const c = new EslClient(socket);
    const hello = await c.next();
    if (hello.headers['Content-Type'] !== 'auth/request') throw new Error('ESL: expected auth/request');
    const r = await c.command(`auth ${password}`);
    if (!r.headers['Reply-Text']?.startsWith('+OK')) {
      c.close();
      throw new Error(`ESL auth refused: ${r.headers['Reply-Text'] ?? 'no reply'}`);
    }
    return c;
  }

  private next(): Promise<EslMessage> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      this.waiter = (x) => (x instanceof Error ? reject(x) : resolve(x));
    });
  }

  async command(cmd: string): Promise<EslMessage> {
    this.socket.write(`${cmd}\n\n`);
    return this.next();
  }

  close(): void {
    if (!this.socket.destroyed) this.socket.end('exit\n\n');
  }
}
