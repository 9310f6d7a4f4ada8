import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { Assistant, AssistantConfig } from '../../src/assistant.js';
import { silentLogger } from '../../src/log.js';
import {
  attachGateway,
  type Gateway,
  type GatewayDeps,
  type ResolveRequest,
  type ResolveResult,
} from '../../src/telephony/gateway.js';
import type { DtmfSource, MediaLeg } from '../../src/telephony/leg.js';

export function assistant(config: AssistantConfig = {}, key = 'ast_test'): Assistant {
  return {
    id: 'ag_test',
    assistantApiKey: key,
    tenantId: 't_test',
    config,
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
}

/** What a test session saw of one call. */
export interface RecordedCall {
  leg: MediaLeg;
  audio: Uint8Array[];
  pcmFrames: number;
  dtmf: { digit: string; source: DtmfSource; durationMs?: number }[];
  marks: { name: string; played: boolean }[];
  stops: string[];
  idle: number;
}

export interface TestServer {
  url: string;
  gateway: Gateway;
  resolves: ResolveRequest[];
  calls: RecordedCall[];
  released: number;
  nextCall(): Promise<RecordedCall>;
  close(): Promise<void>;
}

/**
 * A real http server on 127.0.0.1:0 with the gateway attached. Default resolve: any key accepted, mode `agent`,
 * and onCall records everything the leg reports.
 */
export async function startServer(
  opts: Partial<Omit<GatewayDeps, 'resolve'>> & { resolve?: (req: ResolveRequest) => Promise<ResolveResult> } = {},
): Promise<TestServer> {
  const server = http.createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  const resolves: ResolveRequest[] = [];
  const calls: RecordedCall[] = [];
  const waiters: ((c: RecordedCall) => void)[] = [];
  const state = { released: 0 };
  let consumed = 0;
  const gateway = attachGateway(server, {
    logger: silentLogger,
    ...opts,
    resolve:
      opts.resolve ??
      (async (req) => {
        resolves.push(req);
        return { ok: true, call: { tenantId: 't_test', assistant: assistant(), release: () => state.released++ } };
      }),
    onCall:
      opts.onCall ??
      ((leg) => {
        const call: RecordedCall = { leg, audio: [], pcmFrames: 0, dtmf: [], marks: [], stops: [], idle: 0 };
        leg.setHandler({
          onAudio: (pcm, wire) => {
            call.pcmFrames++;
            if (pcm.length === 0) throw new Error('empty frame');
            call.audio.push(Uint8Array.from(wire));
          },
          onDtmf: (digit, source, durationMs) => call.dtmf.push({ digit, source, durationMs }),
          onMark: (name, played) => call.marks.push({ name, played }),
          onPlaybackIdle: () => call.idle++,
          onStop: (reason) => call.stops.push(reason),
        });
        calls.push(call);
        const w = waiters.shift();
        if (w) {
          consumed++;
          w(call);
        }
      }),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    gateway,
    resolves,
    calls,
    get released() {
      return state.released;
    },
    nextCall: () =>
      new Promise<RecordedCall>((resolve) => {
        if (calls.length > consumed) resolve(calls[consumed++]!);
        else waiters.push(resolve);
      }),
    async close() {
      await gateway.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Received {
  text?: string;
  binary?: Buffer;
}

/** A real ws client that records what the engine sends and how it closes. */
export class WireClient {
  readonly ws: WebSocket;
  readonly received: Received[] = [];
  closeCode: number | undefined;
  closeReason = '';
  private waiters: (() => void)[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(url: string, protocols?: string | string[], headers?: Record<string, string>) {
    this.ws = new WebSocket(url, protocols, { headers });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString('utf8');
        resolve({ code, reason: this.closeReason });
        this.wake();
      });
    });
    this.ws.on('error', () => {});
    this.ws.on('message', (data: Buffer, isBinary) => {
      this.received.push(isBinary ? { binary: data } : { text: data.toString('utf8') });
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(data: string | Uint8Array): void {
    this.ws.send(data);
  }

  /** Resolves once `pred` holds over what was received (or the socket closed: then it rejects). */
  async until(pred: (r: Received[]) => boolean, what = 'condition'): Promise<void> {
    while (!pred(this.received)) {
      if (this.closeCode !== undefined)
        throw new Error(`socket closed (${this.closeCode} ${this.closeReason}) before ${what}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  texts(): string[] {
    return this.received.filter((r) => r.text !== undefined).map((r) => r.text!);
  }

  close(): void {
    this.ws.close();
  }
}

/** Polls a condition on the engine side (no timing assertion: only a generous deadline against hangs). */
export async function eventually(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// ------------------------------------------------------------------------------------------- wire transcripts

export interface WireStep {
  text?: unknown;
  binary?: string;
}

export interface WireFixture {
  protocol: string;
  path: string;
  subprotocol: string | null;
  start: WireStep[];
  expectInfo: Record<string, unknown>;
  expectResolve: Record<string, string>;
  expectFirst?: string;
  media: WireStep;
  inFrameBytes: number;
  dtmf: WireStep;
  expectDtmf: { digit: string; durationMs?: number };
  markEcho: WireStep | null;
  stop: WireStep | null;
  out: {
    audio: string;
    frameBytes: number;
    mark: string | null;
    clear: string;
    clearReply?: WireStep;
    echoesPendingMarksOnClear: boolean;
  };
}

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/wire');

export function loadFixture(protocol: string): WireFixture {
  return JSON.parse(readFileSync(path.join(FIXTURES, `${protocol}.json`), 'utf8')) as WireFixture;
}

export interface Vars {
  seq?: number;
  chunk?: number;
  payload?: Uint8Array;
  name?: string;
  pending?: string;
}

/** A transcript step with its placeholders filled: $SEQ/$CHUNK/$TS in strings, $SEQN/$CHUNKN as numbers. */
export function render(step: WireStep, v: Vars = {}): string | Buffer {
  if (step.binary !== undefined) {
    return step.binary === '$AUDIO' ? Buffer.from(v.payload ?? new Uint8Array(0)) : Buffer.from(step.binary, 'base64');
  }
  let s = typeof step.text === 'string' ? step.text : JSON.stringify(step.text);
  const seq = v.seq ?? 1;
  const chunk = v.chunk ?? 1;
  s = s
    .replaceAll('"$SEQN"', String(seq))
    .replaceAll('"$CHUNKN"', String(chunk))
    .replaceAll('$SEQ', String(seq))
    .replaceAll('$CHUNK', String(chunk))
    .replaceAll('$TS', String(chunk * 20))
    .replaceAll('$PAYLOAD', v.payload ? Buffer.from(v.payload).toString('base64') : '')
    .replaceAll('$PENDING', v.pending ?? '')
    .replaceAll('$NAME', v.name ?? '');
  return s;
}

/** Deterministic audio bytes that never contain 0xFF (jambonz maps the sample 0xFFFF; see jambonz.ts). */
export function testAudio(bytes: number, seed = 1): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 7 + seed * 13 + 3) % 251;
  return out;
}
