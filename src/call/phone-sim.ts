import { WebSocket } from 'ws';
import { mulawDecode } from '../audio/g711.js';

/**
 * The telephony side of a call, simulated over a real WebSocket: what `voice-engine replay`, the latency bench and
 * the gateway tests use to talk to the engine exactly as a platform would (PROTOCOLS.md).
 *  - twilio: `connected`, `start` (customParameters), `media` (base64 mu-law 8 kHz, string counters), `dtmf`,
 *    `stop`; marks are echoed once the audio queued before them has "played" on our playout clock, and on `clear`
 *    the queued audio is dropped and every pending mark is echoed at once (Twilio's documented behaviour).
 *  - native: JSON `start` -> `ready`, binary PCM16 LE frames, `dtmf`, `stop`; marks echoed the same way.
 * The agent's audio is kept on the call timeline (ms since the stream started) for `--out`.
 */
export type SimProtocol = 'twilio' | 'native';

export interface PhoneSimOptions {
  url: string;
  protocol: SimProtocol;
  callId?: string;
  from?: string;
  to?: string;
  customParameters?: Record<string, string>;
  /**
   * Raw replay of a wire recording: no start message and no mark echoes of ours (the recording holds the
   * platform's own), messages go out with sendRaw().
   */
  raw?: boolean;
}

export type SimEvent =
  | { type: 'clear'; at: number }
  | { type: 'mark'; name: string; at: number; echoedAt?: number }
  | { type: 'transcript'; role: string; text: string; turn: number; at: number }
  | { type: 'metrics'; data: Record<string, unknown>; at: number }
  | { type: 'hangup'; reason: string; at: number }
  | { type: 'transfer'; target: string; mode: string; at: number }
  | { type: 'dtmf'; digits: string; at: number }
  | { type: 'closed'; code: number; reason: string; at: number };

interface AgentPiece {
  /** ms on the call timeline when this audio starts playing */
  startMs: number;
  pcm: Int16Array;
}

export class PhoneSim {
  readonly ws: WebSocket;
  readonly protocol: SimProtocol;
  readonly events: SimEvent[] = [];
  /** Agent audio as heard by the caller (cut at clears), PCM16 8 kHz (twilio) or the native rate. */
  readonly agent: AgentPiece[] = [];
  readonly sampleRate = 8000;
  /** performance.now() when the stream started (t = 0 of the call timeline). */
  t0 = 0;
  /** Time the first agent audio arrived, and the last. */
  firstAgentAudioAt = -1;
  lastAgentAudioAt = -1;
  /** Call-timeline ms at which the queued agent audio ends (the playout clock). */
  private playoutEndMs = 0;
  private pendingMarks: { name: string; dueMs: number; timer: NodeJS.Timeout }[] = [];
  private seq = 0;
  private chunk = 0;
  private streamSid = '';
  private readonly closedP: Promise<{ code: number; reason: string }>;
  closed = false;
  private raw = false;
  private readonly pcmScratch = new Int16Array(160);
  private readonly nativeFrame = Buffer.alloc(320);
  /** Listeners for tests/bench: called on each event as it happens. */
  onEvent?: (e: SimEvent) => void;
  /** Called on each agent audio message, with its arrival time (ms on the call timeline). */
  onAgentAudio?: (atMs: number) => void;

  private constructor(ws: WebSocket, protocol: SimProtocol) {
    this.ws = ws;
    this.protocol = protocol;
    this.closedP = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closed = true;
        for (const m of this.pendingMarks) clearTimeout(m.timer);
        this.pendingMarks = [];
        const e: SimEvent = { type: 'closed', code, reason: reason.toString('utf8'), at: this.nowMs() };
        this.push(e);
        resolve({ code, reason: e.reason });
      });
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('error', () => undefined);
  }

  static async connect(o: PhoneSimOptions): Promise<PhoneSim> {
    const ws = new WebSocket(o.url, o.protocol === 'native' ? ['voice-engine.v1'] : undefined);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`WebSocket upgrade refused: HTTP ${res.statusCode}`)),
      );
    });
    const sim = new PhoneSim(ws, o.protocol);
    if (o.raw) {
      sim.raw = true;
      sim.t0 = performance.now();
      return sim;
    }
    const callId = o.callId ?? `CA${Math.random().toString(16).slice(2).padEnd(32, '0').slice(0, 32)}`;
    if (o.protocol === 'twilio') {
      sim.streamSid = `MZ${callId.slice(2)}`;
      ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
      ws.send(
        JSON.stringify({
          event: 'start',
          sequenceNumber: String(++sim.seq),
          streamSid: sim.streamSid,
          start: {
            streamSid: sim.streamSid,
            accountSid: 'AC00000000000000000000000000000000',
            callSid: callId,
            tracks: ['inbound'],
            customParameters: {
              ...(o.from ? { from: o.from } : {}),
              ...(o.to ? { to: o.to } : {}),
              ...o.customParameters,
            },
            mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
          },
        }),
      );
      sim.t0 = performance.now();
    } else {
      const ready = new Promise<void>((resolve) => {
        const onMsg = (d: Buffer, bin: boolean): void => {
          if (!bin && d.toString().includes('"ready"')) {
            ws.off('message', onMsg);
            resolve();
          }
        };
        ws.on('message', onMsg);
      });
      ws.send(
        JSON.stringify({
          type: 'start',
          version: 1,
          callId,
          from: o.from,
          to: o.to,
          audio: { encoding: 'pcm16', sampleRate: 8000 },
          metadata: o.customParameters ?? {},
        }),
      );
      sim.t0 = performance.now();
      await ready;
    }
    return sim;
  }

  nowMs(): number {
    return performance.now() - this.t0;
  }

  /** Whether agent audio is still playing on our playout clock. */
  get agentPlaying(): boolean {
    return this.playoutEndMs > this.nowMs();
  }

  /** One 20 ms caller frame, 160 bytes of mu-law (decoded to PCM16 for native). */
  sendFrame(mulaw: Uint8Array): void {
    if (this.closed) return;
    if (this.protocol === 'twilio') {
      const ts = Math.round(this.chunk * 20);
      this.ws.send(
        `{"event":"media","sequenceNumber":"${++this.seq}","streamSid":"${this.streamSid}","media":{"track":"inbound","chunk":"${++this.chunk}","timestamp":"${ts}","payload":"${Buffer.from(mulaw.buffer, mulaw.byteOffset, mulaw.byteLength).toString('base64')}"}}`,
      );
      return;
    }
    const pcm = mulawDecode(
      mulaw,
      this.pcmScratch.length >= mulaw.length ? this.pcmScratch.subarray(0, mulaw.length) : undefined,
    );
    const out = mulaw.length * 2 === this.nativeFrame.length ? this.nativeFrame : Buffer.alloc(mulaw.length * 2);
    for (let i = 0; i < pcm.length; i++) out.writeInt16LE(pcm[i]!, i * 2);
    this.ws.send(out);
  }

  sendDtmf(digit: string): void {
    if (this.closed) return;
    if (this.protocol === 'twilio') {
      this.ws.send(
        JSON.stringify({
          event: 'dtmf',
          sequenceNumber: String(++this.seq),
          streamSid: this.streamSid,
          dtmf: { track: 'inbound_track', digit },
        }),
      );
    } else this.ws.send(JSON.stringify({ type: 'dtmf', digit, durationMs: 100 }));
  }

  /** A raw message from a wire recording. */
  sendRaw(data: string | Buffer): void {
    if (!this.closed) this.ws.send(data);
  }

  /** The caller hangs up. */
  async stop(): Promise<void> {
    if (this.closed) return;
    if (this.protocol === 'twilio') {
      this.ws.send(
        JSON.stringify({
          event: 'stop',
          sequenceNumber: String(++this.seq),
          streamSid: this.streamSid,
          stop: { accountSid: 'AC00000000000000000000000000000000', callSid: 'CA' },
        }),
      );
      this.ws.close(1000, 'caller hangup');
    } else {
      this.ws.send(JSON.stringify({ type: 'stop', reason: 'caller-hangup' }));
      this.ws.close(1000, 'caller hangup');
    }
    await this.closedP;
  }

  get whenClosed(): Promise<{ code: number; reason: string }> {
    return this.closedP;
  }

  private push(e: SimEvent): void {
    this.events.push(e);
    this.onEvent?.(e);
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      if (this.protocol === 'native') this.agentAudio(pcmFromLe(data));
      return;
    }
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    } catch {
      return;
    }
    const at = this.nowMs();
    const kind = (this.protocol === 'twilio' ? m.event : m.type) as string;
    switch (kind) {
      case 'media': {
        const payload = (m.media as { payload?: string } | undefined)?.payload;
        if (payload) this.agentAudio(mulawDecode(Buffer.from(payload, 'base64')));
        break;
      }
      case 'mark': {
        const name = this.protocol === 'twilio' ? (m.mark as { name: string }).name : (m.name as string);
        this.queueMark(name, at);
        break;
      }
      case 'clear':
        this.clear(at);
        break;
      case 'transcript':
        this.push({ type: 'transcript', role: String(m.role), text: String(m.text), turn: Number(m.turn), at });
        break;
      case 'event':
        if (m.name === 'turn.metrics')
          this.push({ type: 'metrics', data: (m.data ?? {}) as Record<string, unknown>, at });
        break;
      case 'hangup':
        this.push({ type: 'hangup', reason: String(m.reason), at });
        break;
      case 'transfer':
        this.push({ type: 'transfer', target: String(m.target), mode: String(m.mode), at });
        break;
      case 'dtmf':
        this.push({ type: 'dtmf', digits: String(m.digits), at });
        break;
    }
  }

  private agentAudio(pcm: Int16Array): void {
    const now = this.nowMs();
    this.onAgentAudio?.(now);
    if (this.firstAgentAudioAt < 0) this.firstAgentAudioAt = now;
    this.lastAgentAudioAt = now;
    const start = Math.max(now, this.playoutEndMs);
    this.agent.push({ startMs: start, pcm: Int16Array.from(pcm) });
    this.playoutEndMs = start + (pcm.length * 1000) / this.sampleRate;
  }

  private queueMark(name: string, at: number): void {
    const dueMs = Math.max(at, this.playoutEndMs);
    const ev: SimEvent = { type: 'mark', name, at };
    this.push(ev);
    if (this.raw) return;
    const timer = setTimeout(
      () => {
        this.pendingMarks = this.pendingMarks.filter((p) => p.timer !== timer);
        ev.echoedAt = this.nowMs();
        this.echoMark(name);
      },
      Math.max(0, dueMs - at),
    );
    this.pendingMarks.push({ name, dueMs, timer });
  }

  private echoMark(name: string): void {
    if (this.closed || this.raw) return;
    if (this.protocol === 'twilio') {
      this.ws.send(
        JSON.stringify({
          event: 'mark',
          sequenceNumber: String(++this.seq),
          streamSid: this.streamSid,
          mark: { name },
        }),
      );
    } else this.ws.send(JSON.stringify({ type: 'mark', name }));
  }

  /** Drop what has not played yet; echo pending marks at once. */
  private clear(at: number): void {
    this.push({ type: 'clear', at });
    for (let i = this.agent.length - 1; i >= 0; i--) {
      const p = this.agent[i]!;
      if (p.startMs >= at) this.agent.pop();
      else {
        const keep = Math.max(0, Math.floor(((at - p.startMs) * this.sampleRate) / 1000));
        if (keep < p.pcm.length) this.agent[i] = { startMs: p.startMs, pcm: p.pcm.subarray(0, keep) };
        break;
      }
    }
    this.playoutEndMs = at;
    const marks = this.pendingMarks;
    this.pendingMarks = [];
    for (const m of marks) {
      clearTimeout(m.timer);
      this.echoMark(m.name);
    }
  }

  /** The agent's audio on the call timeline, mono PCM16 at sampleRate, `totalMs` long (at least). */
  agentTrack(totalMs: number): Int16Array {
    let end = Math.ceil((totalMs * this.sampleRate) / 1000);
    for (const p of this.agent) end = Math.max(end, Math.round((p.startMs * this.sampleRate) / 1000) + p.pcm.length);
    const out = new Int16Array(end);
    for (const p of this.agent) out.set(p.pcm, Math.round((p.startMs * this.sampleRate) / 1000));
    return out;
  }
}

function pcmFromLe(b: Buffer): Int16Array {
  const n = b.length >> 1;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = b.readInt16LE(i * 2);
  return out;
}
