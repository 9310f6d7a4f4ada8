import type { VNode } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Api, Json } from '../api.js';
import { ErrorBox, html, useLoad } from '../ui.js';

const RATE = 16000;
const FRAME = 320; // 20 ms at 16 kHz

interface Line {
  role: string;
  text: string;
}

/**
 * Talk to an assistant from the browser: the microphone streams to the engine over the native media protocol
 * (docs/native-protocol.md: JSON control, binary PCM16 16 kHz both ways), the agent's audio plays back with marks
 * echoed when heard and `clear` honoured, and the transcript updates live. The quickest way to try an assistant.
 */
export function Talk({ api }: { api: Api }): VNode {
  const assistants = useLoad(() => api.list<Json>('/api/v1/assistants'));
  const [astKey, setAstKey] = useState('');
  const [status, setStatus] = useState('idle');
  const [lines, setLines] = useState<Line[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const call = useRef<{ stop(): void } | undefined>(undefined);
  useEffect(() => () => call.current?.stop(), []);
  const start = async () => {
    setError(undefined);
    setLines([]);
    const key = astKey || String(assistants.data?.[0]?.assistantApiKey ?? '');
    if (!key) {
      setError(new Error('Create an assistant first.'));
      return;
    }
    try {
      call.current = await startCall(key, {
        status: setStatus,
        line: (l) => setLines((all) => [...all, l]),
        error: (e) => setError(e),
      });
    } catch (err) {
      setError(err);
      setStatus('idle');
    }
  };
  const stop = () => {
    call.current?.stop();
    call.current = undefined;
  };
  return html`<section aria-labelledby="h-talk"><h2 id="h-talk">Talk to an agent</h2>
    <div class="row">
      <label>Assistant <select id="talk-assistant" value=${astKey} onChange=${(e: Event) => setAstKey((e.target as HTMLSelectElement).value)}>
        ${(assistants.data ?? []).map((a) => html`<option value=${String(a.assistantApiKey)}>${String(a.name ?? a.id)}</option>`)}
      </select></label>
      ${status === 'idle' || status === 'ended' ? html`<button id="talk-start" onClick=${start}>Start call</button>` : html`<button id="talk-stop" onClick=${stop}>Hang up</button>`}
      <span class="badge state" id="talk-status">${status}</span>
    </div>
    <${ErrorBox} error=${error ?? assistants.error} />
    <ol class="transcript" id="talk-transcript" aria-live="polite">${lines.map(
      (l) => html`<li class=${l.role}><b>${l.role === 'user' ? 'You' : 'Agent'}:</b> ${l.text}</li>`,
    )}</ol>
    <p class="muted">Your microphone audio goes only to this engine. Use headphones to avoid the agent hearing itself.</p>
  </section>`;
}

interface Sink {
  status(s: string): void;
  line(l: Line): void;
  error(e: unknown): void;
}

async function startCall(astKey: string, sink: Sink): Promise<{ stop(): void }> {
  sink.status('connecting');
  const media = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true },
  });
  const ctx = new AudioContext({ sampleRate: RATE });
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}/media/native/${encodeURIComponent(astKey)}`, 'voice-engine.v1');
  ws.binaryType = 'arraybuffer';
  const source = ctx.createMediaStreamSource(media);
  // ScriptProcessor: deprecated but universally available, and needs no worklet module (the page's CSP allows
  // scripts from this origin only). 1024-sample blocks are cut into 20 ms frames.
  const proc = ctx.createScriptProcessor(1024, 1, 1);
  const pending = new Int16Array(FRAME);
  let filled = 0;
  let ready = false;
  proc.onaudioprocess = (e) => {
    const input = e.inputBuffer.getChannelData(0);
    for (let i = 0; i < input.length; i++) {
      const v = Math.max(-1, Math.min(1, input[i] ?? 0));
      pending[filled++] = v < 0 ? v * 0x8000 : v * 0x7fff;
      if (filled === FRAME) {
        if (ready && ws.readyState === WebSocket.OPEN) ws.send(pending.slice().buffer);
        filled = 0;
      }
    }
    e.outputBuffer.getChannelData(0).fill(0);
  };
  source.connect(proc);
  proc.connect(ctx.destination);

  // Agent audio: scheduled back to back; `clear` stops it; marks are echoed once the audio before them has played.
  let playAt = 0;
  const playing = new Set<AudioBufferSourceNode>();
  const marks = new Set<ReturnType<typeof setTimeout>>();
  const play = (buf: ArrayBuffer) => {
    const pcm = new Int16Array(buf);
    const ab = ctx.createBuffer(1, pcm.length, RATE);
    const ch = ab.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) ch[i] = (pcm[i] ?? 0) / 0x8000;
    const node = ctx.createBufferSource();
    node.buffer = ab;
    node.connect(ctx.destination);
    playAt = Math.max(playAt, ctx.currentTime);
    node.start(playAt);
    playAt += ab.duration;
    playing.add(node);
    node.onended = () => playing.delete(node);
  };
  let ended = false;
  const stop = () => {
    if (ended) return;
    ended = true;
    try {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'stop', reason: 'caller-hangup' }));
      ws.close(1000);
    } catch {
      // already closed
    }
    for (const t of marks) clearTimeout(t);
    proc.disconnect();
    source.disconnect();
    for (const tr of media.getTracks()) tr.stop();
    void ctx.close();
    sink.status('ended');
  };
  ws.onopen = () => {
    ws.send(
      JSON.stringify({
        type: 'start',
        version: 1,
        audio: { encoding: 'pcm16', sampleRate: RATE },
        metadata: { source: 'console' },
      }),
    );
  };
  ws.onmessage = (ev) => {
    if (typeof ev.data !== 'string') {
      play(ev.data as ArrayBuffer);
      return;
    }
    const m = JSON.parse(ev.data) as Json;
    if (m.type === 'ready') {
      ready = true;
      sink.status('in call');
    } else if (m.type === 'transcript' && m.final !== false && typeof m.text === 'string') {
      sink.line({ role: String(m.role), text: m.text });
    } else if (m.type === 'mark') {
      const t = setTimeout(
        () => {
          marks.delete(t);
          if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'mark', name: m.name }));
        },
        Math.max(0, (playAt - ctx.currentTime) * 1000),
      );
      marks.add(t);
    } else if (m.type === 'clear') {
      for (const n of playing) n.stop();
      playing.clear();
      playAt = ctx.currentTime;
    } else if (m.type === 'hangup' || m.type === 'transfer') {
      sink.status(m.type === 'hangup' ? 'agent hung up' : `transferred to ${String(m.target)}`);
    }
  };
  ws.onclose = (ev) => {
    if (!ended && ev.code !== 1000 && ev.code !== 4000)
      sink.error(new Error(`The engine closed the call (${ev.code} ${ev.reason}).`));
    stop();
  };
  return { stop };
}
