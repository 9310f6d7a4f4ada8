import type { VNode } from 'preact';
import { html } from './ui.js';

/**
 * Small SVG charts (no chart library: a few hundred bytes each, styled by the page's CSS, readable by screen
 * readers through their titles and the tables beside them).
 */
export const STAGES = [
  { key: 'endpointingMs', label: 'endpointing', color: '#8e7cc3' },
  { key: 'asrFinalMs', label: 'ASR final', color: '#6fa8dc' },
  { key: 'llmFirstTokenMs', label: 'LLM first token', color: '#f6b26b' },
  { key: 'ttsFirstByteMs', label: 'TTS first byte', color: '#93c47d' },
] as const;

/** One stacked bar per turn: endpointing, LLM first token, TTS first byte; a tick at voice-to-voice. */
export function LatencyChart({ turns }: { turns: Array<Record<string, unknown>> }): VNode {
  const rows = turns.filter((t) => typeof t.voiceToVoiceMs === 'number' || typeof t.endpointingMs === 'number');
  if (!rows.length) return html`<p class="muted">No measured turns.</p>`;
  const num = (v: unknown) => (typeof v === 'number' ? v : 0);
  const max = Math.max(
    1,
    ...rows.map((t) =>
      Math.max(num(t.voiceToVoiceMs), num(t.endpointingMs) + num(t.llmFirstTokenMs) + num(t.ttsFirstByteMs)),
    ),
  );
  const w = 560;
  const barH = 18;
  const left = 60;
  const scale = (v: number) => (v / max) * (w - left - 10);
  const stacked = STAGES.filter((s) => s.key !== 'asrFinalMs');
  return html`<svg class="chart" role="img" aria-label="Per-turn latency breakdown" width=${w} height=${rows.length * (barH + 8) + 30}>
    ${rows.map((t, i) => {
      let x = left;
      const y = i * (barH + 8) + 4;
      return html`<g>
        <text x="0" y=${y + 13} class="axis">turn ${String(t.turn ?? i + 1)}</text>
        ${stacked.map((s) => {
          const v = num(t[s.key]);
          const r = html`<rect x=${x} y=${y} width=${Math.max(0, scale(v))} height=${barH} fill=${s.color}><title>${s.label}: ${Math.round(v)} ms</title></rect>`;
          x += scale(v);
          return r;
        })}
        ${
          typeof t.voiceToVoiceMs === 'number'
            ? html`<line x1=${left + scale(t.voiceToVoiceMs)} x2=${left + scale(t.voiceToVoiceMs)} y1=${y - 2} y2=${y + barH + 2} class="v2v"><title>voice-to-voice: ${Math.round(t.voiceToVoiceMs)} ms</title></line>`
            : null
        }
      </g>`;
    })}
    <text x=${left} y=${rows.length * (barH + 8) + 22} class="axis">0</text>
    <text x=${w - 60} y=${rows.length * (barH + 8) + 22} class="axis">${Math.round(max)} ms</text>
  </svg>
  <div class="legend">${stacked.map((s) => html`<span><i style=${`background:${s.color}`}></i>${s.label}</span>`)}<span><i class="v2v-key"></i>voice-to-voice</span></div>`;
}

/** Vertical bars with labels (calls per day, outcomes). */
export function BarChart({ data, label }: { data: Array<[string, number]>; label: string }): VNode {
  if (!data.length) return html`<p class="muted">No data yet.</p>`;
  const w = 560;
  const h = 160;
  const max = Math.max(1, ...data.map((d) => d[1]));
  const bw = Math.min(48, (w - 20) / data.length - 6);
  return html`<svg class="chart" role="img" aria-label=${label} width=${w} height=${h + 40}>
    ${data.map(([k, v], i) => {
      const bh = (v / max) * h;
      const x = 10 + i * (bw + 6);
      return html`<g><rect x=${x} y=${h - bh + 10} width=${bw} height=${bh} class="bar"><title>${k}: ${v}</title></rect>
        <text x=${x} y=${h + 24} class="axis">${k.length > 8 ? k.slice(5) : k}</text>
        <text x=${x} y=${h - bh + 6} class="axis">${v}</text></g>`;
    })}
  </svg>`;
}

/** Min/max envelope of a channel onto a canvas (the recording's waveform). */
export function drawWaveform(canvas: HTMLCanvasElement, buffer: AudioBuffer, progress: number): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  const channels = Math.min(2, buffer.numberOfChannels);
  const laneH = height / channels;
  for (let c = 0; c < channels; c++) {
    const data = buffer.getChannelData(c);
    const step = Math.max(1, Math.floor(data.length / width));
    ctx.fillStyle = c === 0 ? '#6fa8dc' : '#93c47d';
    for (let x = 0; x < width; x++) {
      let lo = 1;
      let hi = -1;
      for (let i = x * step; i < (x + 1) * step && i < data.length; i++) {
        const v = data[i] ?? 0;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const mid = laneH * c + laneH / 2;
      ctx.fillRect(x, mid - (hi * laneH) / 2, 1, Math.max(1, ((hi - lo) * laneH) / 2));
    }
  }
  ctx.fillStyle = 'rgba(0,0,0,0.15)';
  ctx.fillRect(0, 0, width * progress, height);
}
