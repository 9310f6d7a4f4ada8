import type { VNode } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Api, Json } from '../api.js';
import { drawWaveform, LatencyChart } from '../charts.js';
import { ErrorBox, fmtDate, fmtDuration, fmtMs, html, useLoad } from '../ui.js';

/** Call history with filters; a call opens with its transcript beside its stereo recording. */
export function Calls({ api, openId, go }: { api: Api; openId?: string; go: (hash: string) => void }): VNode {
  const [status, setStatus] = useState('');
  const [direction, setDirection] = useState('');
  const q = new URLSearchParams({ limit: '50', ...(status ? { status } : {}), ...(direction ? { direction } : {}) });
  const calls = useLoad(() => api.list<Json>(`/api/v1/calls?${q}`), [status, direction]);
  if (openId) return html`<${CallDetail} key=${openId} api=${api} id=${openId} back=${() => go('#/calls')} />`;
  return html`<section aria-labelledby="h-calls"><h2 id="h-calls">Call history</h2>
    <div class="row">
      <label>Status <select value=${status} onChange=${(e: Event) => setStatus((e.target as HTMLSelectElement).value)}>
        <option value="">all</option>${['completed', 'failed', 'in-progress', 'queued'].map((s) => html`<option value=${s}>${s}</option>`)}</select></label>
      <label>Direction <select value=${direction} onChange=${(e: Event) => setDirection((e.target as HTMLSelectElement).value)}>
        <option value="">all</option><option value="inbound">inbound</option><option value="outbound">outbound</option></select></label>
      <button onClick=${calls.reload}>Refresh</button>
    </div>
    <${ErrorBox} error=${calls.error} />
    <table class="list"><thead><tr><th>Call</th><th>Started</th><th>Direction</th><th>Protocol</th><th>Status</th><th>Duration</th><th>End</th></tr></thead>
    <tbody>${(calls.data ?? []).map(
      (
        c,
      ) => html`<tr><td><a href=${`#/calls/${c.id}`}>${String(c.id)}</a></td><td>${fmtDate(c.startedAt ?? c.createdAt)}</td>
        <td>${String(c.direction ?? '')}</td><td>${String(c.protocol ?? '')}</td><td>${String(c.status)}</td>
        <td>${fmtDuration(c.durationMs)}</td><td>${String(c.endReason ?? '')}</td></tr>`,
    )}</tbody></table>
  </section>`;
}

function CallDetail({ api, id, back }: { api: Api; id: string; back: () => void }): VNode {
  const call = useLoad(() => api.get<Json>(`/api/v1/calls/${encodeURIComponent(id)}`), [id]);
  const [audioUrl, setAudioUrl] = useState<string | undefined>(undefined);
  const [audioErr, setAudioErr] = useState<unknown>(undefined);
  const audio = useRef<HTMLAudioElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [buffer, setBuffer] = useState<AudioBuffer | undefined>(undefined);
  const c = call.data;
  const recording = c?.recordingUrl as string | undefined;
  useEffect(() => {
    if (!recording) return;
    let url: string | undefined;
    api.blobUrl(recording).then(async (u) => {
      url = u;
      setAudioUrl(u);
      const bytes = await (await fetch(u)).arrayBuffer();
      setBuffer(await new AudioContext().decodeAudioData(bytes));
    }, setAudioErr);
    return () => {
      if (url) URL.revokeObjectURL(url);
    };
  }, [recording, api]);
  useEffect(() => {
    const el = audio.current;
    const cv = canvas.current;
    if (!el || !cv || !buffer) return;
    const draw = () => drawWaveform(cv, buffer, el.duration ? el.currentTime / el.duration : 0);
    draw();
    el.addEventListener('timeupdate', draw);
    return () => el.removeEventListener('timeupdate', draw);
  }, [buffer]);
  const seek = (ms: unknown) => {
    if (audio.current && typeof ms === 'number') {
      audio.current.currentTime = ms / 1000;
      void audio.current.play();
    }
  };
  const clickWave = (e: MouseEvent) => {
    const el = audio.current;
    const cv = canvas.current;
    if (!el || !cv || !el.duration) return;
    el.currentTime = ((e.offsetX / cv.width) * el.duration) as number;
  };
  return html`<section aria-labelledby="h-call"><button onClick=${back}>← All calls</button>
    <h2 id="h-call">Call <code>${id}</code></h2>
    <${ErrorBox} error=${call.error} />
    ${
      c
        ? html`<dl class="facts"><dt>Status</dt><dd>${String(c.status)}</dd><dt>Direction</dt><dd>${String(c.direction ?? '')}</dd>
          <dt>Protocol</dt><dd>${String(c.protocol ?? '')}</dd><dt>Started</dt><dd>${fmtDate(c.startedAt)}</dd>
          <dt>Duration</dt><dd>${fmtDuration(c.durationMs)}</dd><dt>Ended by</dt><dd>${String(c.endReason ?? '')}</dd></dl>
        <h3>Recording</h3>
        ${
          recording
            ? html`<audio id="recording" ref=${audio} controls src=${audioUrl}></audio>
            <canvas ref=${canvas} width="800" height="80" class="wave" aria-label="Waveform: caller (top) and agent (bottom); click to seek" onClick=${clickWave}></canvas>
            ${audioUrl ? html`<a href=${audioUrl} download=${`${id}.wav`}>Download WAV</a>` : null}`
            : html`<p class="muted">No recording for this call.</p>`
        }
        <${ErrorBox} error=${audioErr} />
        <h3>Transcript</h3>
        <ol class="transcript">${((c.transcript as Json[]) ?? []).map(
          (
            t,
          ) => html`<li class=${String(t.role)}><button class="link" title="Play from here" onClick=${() => seek(t.atMs)}>${typeof t.atMs === 'number' ? fmtDuration(t.atMs) : ''}</button>
            <b>${t.role === 'user' ? 'Caller' : 'Agent'}:</b> ${String(t.text)}${t.interrupted || t.truncated ? html` <i>(interrupted)</i>` : null}</li>`,
        )}</ol>
        <h3>Latency per turn</h3>
        <${LatencyChart} turns=${(c.turns as Json[]) ?? []} />
        <table class="list"><thead><tr><th>Turn</th><th>Endpointing</th><th>ASR final</th><th>LLM first token</th><th>TTS first byte</th><th>Voice-to-voice</th></tr></thead>
        <tbody>${((c.turns as Json[]) ?? []).map(
          (
            t,
          ) => html`<tr><td>${String(t.turn ?? '')}</td><td>${fmtMs(t.endpointingMs)}</td><td>${fmtMs(t.asrFinalMs)}</td>
            <td>${fmtMs(t.llmFirstTokenMs)}</td><td>${fmtMs(t.ttsFirstByteMs)}</td><td>${fmtMs(t.voiceToVoiceMs)}</td></tr>`,
        )}</tbody></table>
        <h3>Tool calls</h3>
        ${((c.tools as Json[]) ?? []).length ? html`<ul>${((c.tools as Json[]) ?? []).map((t) => html`<li><code>${String(t.name)}</code> ${t.ok === false ? 'failed' : 'ok'} ${fmtMs(t.ms)}</li>`)}</ul>` : html`<p class="muted">None.</p>`}
        <h3>Incidents</h3>
        ${((c.incidents as Json[]) ?? []).length ? html`<ul>${((c.incidents as Json[]) ?? []).map((t) => html`<li>${String(t.kind ?? '')} ${String(t.provider ?? '')} ${String(t.action ?? '')}: ${String(t.message ?? '')}</li>`)}</ul>` : html`<p class="muted">None.</p>`}`
        : null
    }
  </section>`;
}
