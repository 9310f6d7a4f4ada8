/**
 * Shared pieces of the loopback fake provider servers (bench/fakes/*.ts): request recording, scripted faults,
 * fixed latency and a synthetic audio source. The fakes serve tests and the latency bench, so they speak each
 * provider's real endpoints, auth headers and error shapes, and they listen on 127.0.0.1 port 0 only.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Faults a fake injects into the next request (FIFO: each request consumes one queued fault).
 * - drop: the connection is cut mid-stream (after the first chunk / first result; ElevenLabs HTTP ends the socket
 *   before the body's last chunk, so the client always reads the first chunk, even on a loaded machine)
 * - unauthorized / rate_limited / server_error: 401 / 429 (+ Retry-After) / 500 with the provider's error body
 * - slow_first_byte: the first byte waits `slowFirstByteMs`
 * - malformed: a frame that is not valid for the protocol (broken JSON)
 */
export type Fault =
  | 'drop'
  | 'unauthorized'
  | 'rate_limited'
  | 'server_error'
  | 'slow_first_byte'
  | 'malformed'
  /** out of credit, as each service says it: OpenAI 429 insufficient_quota, ElevenLabs quota_exceeded, Deepgram 402 */
  | 'quota'
  /** ElevenLabs WebSocket: 1008 input_timeout_exceeded (no text for inactivity_timeout) */
  | 'input_timeout'
  /** Deepgram listen: the audio cannot be decoded: close 1008 DATA-0000 */
  | 'undecodable'
  /** Deepgram listen: a server Error message, then close 1011 */
  | 'server_error_message';

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
  /**
   * Query parameters as the services parse them: a repeated key (`keyterm=a&keyterm=b`) is a list, a comma inside
   * one value (`keyterm=a,b`) is part of that one value.
   */
  query: Record<string, string | string[]>;
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
  const query: Record<string, string | string[]> = {};
  for (const k of new Set(u.searchParams.keys())) {
    const all = u.searchParams.getAll(k);
    query[k] = all.length === 1 ? all[0]! : all;
  }
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

/** ITU-T G.711 mu-law -> linear, for the fakes' energy segmentation. */
export const MULAW_TABLE = Int16Array.from({ length: 256 }, (_, i) => {
  const u = ~i & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  return u & 0x80 ? 0x84 - t : t - 0x84;
});

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

/** RIFF/WAVE header for PCM16 / mu-law mono (what a `container=wav` response starts with). */
export function wavHeader(encoding: 'pcm16' | 'mulaw', sampleRate: number, dataBytes: number): Buffer {
  const h = Buffer.alloc(44);
  const bytes = encoding === 'pcm16' ? 2 : 1;
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(encoding === 'pcm16' ? 1 : 7, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * bytes, 28);
  h.writeUInt16LE(bytes, 32);
  h.writeUInt16LE(bytes * 8, 34);
  h.write('data', 36);
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** Splits `buf` into chunks of `chunkBytes` (views, not copies). */
export function chunks(buf: Buffer, chunkBytes: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunkBytes) out.push(buf.subarray(i, Math.min(buf.length, i + chunkBytes)));
  return out;
}
