/**
 * Shared pieces of the loopback fake provider servers (bench/fakes/*.ts): request recording, scripted faults,
 * fixed latency and a synthetic audio source. The fakes serve tests and the latency bench, so they speak each
 * provider's real endpoints, auth headers and error shapes, and they listen on 127.0.0.1 port 0 only.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Faults a fake injects into the next request (FIFO: each request consumes one queued fault).
 * - drop: the connection is destroyed mid-stream (after the first chunk / first result)
 * - unauthorized / rate_limited / server_error: 401 / 429 (+ Retry-After) / 500 with the provider's error body
 * - slow_first_byte: the first byte waits `slowFirstByteMs`
 * - malformed: a frame that is not valid for the protocol (broken JSON)
 */
export type Fault = 'drop' | 'unauthorized' | 'rate_limited' | 'server_error' | 'slow_first_byte' | 'malformed';

export interface FakeLatency {
  /** Delay before the first byte of a response, ms. */
  firstByteMs?: number;
  /** Delay between streamed chunks, ms. */
  chunkMs?: number;
  /** Delay used by the slow_first_byte fault, ms. */
  slowFirstByteMs?: number;
  /** Retry-After sent with 429, seconds. */
  retryAfterS?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Text bodies (JSON) as text; binary bodies as their byte length. */
  body?: string;
  bodyBytes?: number;
}

export interface FakeServer {
  /** http://127.0.0.1:PORT (WebSocket endpoints: replace http with ws). */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Faults consumed one per request, in order. */
  readonly faults: Fault[];
  close(): Promise<void>;
}

export const sleep = (ms: number): Promise<void> =>
  ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();

export function record(req: IncomingMessage, body?: Buffer): RecordedRequest {
  const u = new URL(req.url ?? '/', 'http://x');
  const query: Record<string, string> = {};
  for (const [k, v] of u.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const ct = String(req.headers['content-type'] ?? '');
  const text = ct.includes('json') || ct.includes('text');
  return {
    method: req.method ?? 'GET',
    path: u.pathname,
    query,
    headers: { ...req.headers },
    body: body && text ? body.toString('utf8') : undefined,
    bodyBytes: body?.length,
  };
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** ITU-T G.711 mu-law encode of one sample (the fakes must not depend on src/audio). */
function mulawEncode(sample: number): number {
  const BIAS = 0x84;
  let s = sample;
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > 32635) s = 32635;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/**
 * Synthetic "speech": a 220 Hz tone whose length follows the text (60 ms per character, at least 200 ms), in
 * the requested encoding. Deterministic, so tests can assert exact byte counts.
 */
export function synthAudio(text: string, encoding: 'pcm16' | 'mulaw', sampleRate: number): Buffer {
  const ms = Math.max(200, text.length * 60);
  const n = Math.round((sampleRate * ms) / 1000);
  const out = Buffer.alloc(encoding === 'pcm16' ? n * 2 : n);
  for (let i = 0; i < n; i++) {
    const v = Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / sampleRate));
    if (encoding === 'pcm16') out.writeInt16LE(v, i * 2);
    else out[i] = mulawEncode(v);
  }
  return out;
}

/** Splits `buf` into chunks of `chunkBytes` (views, not copies). */
export function chunks(buf: Buffer, chunkBytes: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunkBytes) out.push(buf.subarray(i, Math.min(buf.length, i + chunkBytes)));
  return out;
}
