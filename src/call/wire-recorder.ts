import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { AssistantConfig } from '../assistant.js';

/**
 * Opt-in wire recording (settings.recordWire): every raw inbound WebSocket message of a call, one JSON line each
 * with its arrival time, so `voice-engine replay call.jsonl` reproduces the call exactly.
 *   {"t":12.5,"text":"{\"event\":\"media\",...}"}   text frame, t = ms since the first message
 *   {"t":20.1,"bin":"<base64>"}                     binary frame
 * The first line is a header: {"wire":1,"protocol":"twilio","callId":"...","assistant":{...}}: the assistant the call
 * ran with (so a replay runs against the same one), its secrets (tool and MCP headers, tokens) redacted.
 * Writes go through a stream (no sync I/O); the gateway calls record() for each message it receives.
 */
export class WireRecorder {
  readonly file: string;
  private readonly out: WriteStream;
  private t0 = -1;
  private closed = false;

  /** `file` is named by our call id (src/call-files.ts); `callId` (the carrier's) is data in the header. */
  constructor(file: string, callId: string, protocol: string, assistant?: AssistantConfig) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.file = file;
    // Exclusive: never overwrites another call's log.
    this.out = createWriteStream(this.file, { flags: 'wx' });
    this.out.on('error', () => undefined);
    const header = { wire: 1, protocol, callId, ...(assistant ? { assistant: redactSecrets(assistant) } : {}) };
    this.out.write(`${JSON.stringify(header)}\n`);
  }

  record(data: string | Uint8Array, atMs: number): void {
    if (this.closed) return;
    if (this.t0 < 0) this.t0 = atMs;
    const t = Math.round((atMs - this.t0) * 10) / 10;
    const line =
      typeof data === 'string'
        ? `{"t":${t},"text":${JSON.stringify(data)}}\n`
        : `{"t":${t},"bin":"${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')}"}\n`;
    this.out.write(line);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((r) => this.out.end(r));
  }
}

/** Keys whose values are credentials (tool / MCP headers and tokens): never written to a recording. */
const SECRET_KEY = /^(headers|token|authorization|api[-_]?key|secret|password)$/i;

/** A deep copy with every credential value replaced by "[redacted]". */
export function redactSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v)) as T;
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (SECRET_KEY.test(k) && v !== undefined) {
      out[k] =
        v && typeof v === 'object' && !Array.isArray(v)
          ? Object.fromEntries(Object.keys(v).map((h) => [h, '[redacted]']))
          : '[redacted]';
    } else out[k] = redactSecrets(v);
  }
  return out as T;
}

export interface WireLine {
  t: number;
  text?: string;
  bin?: string;
}

/** Parse a wire recording: header plus messages; bad lines are skipped and counted. */
export function parseWireRecording(jsonl: string): {
  protocol?: string;
  callId?: string;
  /** The assistant recorded with the call (secrets redacted), when the header has it. */
  assistant?: AssistantConfig;
  messages: WireLine[];
  skipped: number;
} {
  const messages: WireLine[] = [];
  let protocol: string | undefined;
  let callId: string | undefined;
  let assistant: AssistantConfig | undefined;
  let skipped = 0;
  for (const line of jsonl.split('\n')) {
    if (!line.trim()) continue;
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (o.wire !== undefined) {
        protocol = typeof o.protocol === 'string' ? o.protocol : undefined;
        callId = typeof o.callId === 'string' ? o.callId : undefined;
        if (o.assistant && typeof o.assistant === 'object') assistant = o.assistant as AssistantConfig;
      } else if (typeof o.t === 'number' && (typeof o.text === 'string' || typeof o.bin === 'string')) {
        messages.push(o as unknown as WireLine);
      } else skipped++;
    } catch {
      skipped++;
    }
  }
  return { protocol, callId, assistant, messages, skipped };
}
