/**
 * One DeepgramClient factory for the Deepgram adapters (listen v1, Flux listen v2, Aura speak): the base URL
 * override (DEEPGRAM_BASE_URL, how tests reach the loopback fake) maps onto every SDK environment, and a failed
 * WebSocket upgrade becomes a ProviderError with the HTTP status the SDK only puts in its message.
 */
import { DeepgramClient } from '@deepgram/sdk';
import { classify, codeForStatus, scrub } from './classify.js';
import { ProviderError, type ProviderKind } from './types.js';

export function deepgramClient(apiKey: string, baseUrl: string | undefined): DeepgramClient {
  const http = (baseUrl ?? 'https://api.deepgram.com').replace(/^ws/, 'http').replace(/\/+$/, '');
  const ws = http.replace(/^http/, 'ws');
  return new DeepgramClient({
    apiKey,
    environment: { base: http, production: ws, agent: ws, agentRest: http },
    reconnect: false,
    maxRetries: 0,
  } as ConstructorParameters<typeof DeepgramClient>[0]);
}

/** Whatever a socket connect threw -> ProviderError ("... server response: 401" carries the upgrade status). */
export function deepgramConnectError(raw: unknown, kind: ProviderKind, apiKey: string | undefined): ProviderError {
  if (raw instanceof ProviderError) return raw;
  const e = raw as { message?: string; error?: { message?: string } };
  const message = String(e?.error?.message ?? e?.message ?? raw);
  const status = /server response: (\d{3})/.exec(message)?.[1];
  if (status) {
    return new ProviderError({
      provider: 'deepgram',
      kind,
      code: codeForStatus(Number(status)),
      status: Number(status),
      message: `deepgram ${kind}: HTTP ${status} at connect`,
    });
  }
  return classify(new Error(message), { provider: 'deepgram', kind, secrets: [apiKey] });
}

/** The part of a listen socket (v1 or Flux v2) that a graceful close needs. */
export interface ClosableListenSocket {
  readonly readyState: number;
  sendCloseStream(m: { type: 'CloseStream' }): void;
  close(): void;
}

/**
 * CloseStream lets Deepgram flush its last results (and Metadata) before it closes the socket; `closed` resolves
 * when the adapter sees that close. After `timeoutMs` the socket is closed from our side.
 */
export async function closeListenSocket(
  socket: ClosableListenSocket | undefined,
  closed: Promise<void>,
  finish: () => void,
  timeoutMs = 2000,
): Promise<void> {
  if (socket?.readyState !== 1) {
    socket?.close();
    finish();
    return;
  }
  socket.sendCloseStream({ type: 'CloseStream' });
  const timer = setTimeout(() => {
    socket.close();
    finish();
  }, timeoutMs);
  await closed;
  clearTimeout(timer);
}

/** What the adapters need of an SDK listen socket (v1 or Flux v2) to open it. */
export interface OpenableListenSocket extends ClosableListenSocket {
  on(event: 'open' | 'message' | 'close' | 'error', cb: (arg: never) => void): void;
  connect(): unknown;
  waitForOpen(): Promise<unknown>;
}

export const SOCKET_OPEN = 1;

/**
 * Wires a listen socket's messages and close to the adapter and opens it: failures arrive as the close or as
 * waitForOpen's rejection (a ProviderError with the upgrade status); a socket that closed while opening is a
 * connection error. Shared by listen v1 (deepgram.ts) and Flux (deepgram-flux.ts).
 */
export async function openListenSocket<S extends OpenableListenSocket>(
  socket: S,
  on: { message(m: unknown): void; close(code: number | undefined, reason: string | undefined): void },
  apiKey: string | undefined,
  what: string,
): Promise<S> {
  socket.on('message', ((m: unknown) => on.message(m)) as (arg: never) => void);
  socket.on('error', (() => {}) as (arg: never) => void);
  socket.on('close', ((ev: { code?: number; reason?: string }) => on.close(ev?.code, ev?.reason)) as (
    arg: never,
  ) => void);
  socket.connect();
  try {
    await socket.waitForOpen();
  } catch (err) {
    socket.close();
    throw deepgramConnectError(err, 'asr', apiKey);
  }
  if (socket.readyState !== SOCKET_OPEN) {
    socket.close();
    throw new ProviderError({
      provider: 'deepgram',
      kind: 'asr',
      code: 'connection',
      message: `deepgram asr: ${what} closed while opening`,
    });
  }
  return socket;
}

/** A server `Error` message (or a close) of a listen socket as a ProviderError, its text scrubbed of the key. */
export function listenError(code: ProviderError['code'], detail: string, apiKey: string | undefined): ProviderError {
  return new ProviderError({
    provider: 'deepgram',
    kind: 'asr',
    code,
    message: `deepgram asr: ${scrub(detail, [apiKey])}`.trim(),
  });
}
