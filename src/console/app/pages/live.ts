import type { VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Api, Json } from '../api.js';
import { ErrorBox, fmtMs, html } from '../ui.js';

interface LiveView {
  callId: string;
  protocol?: string;
  assistantId?: string;
  state?: string;
  transcript: Array<{ role: string; text: string }>;
  turns: Json[];
  ended?: string;
}

/** Calls in progress, updated from the live-events stream: state, transcript and per-turn latency as they happen. */
export function Live({ api }: { api: Api }): VNode {
  const [calls, setCalls] = useState<Record<string, LiveView>>({});
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    const ctrl = new AbortController();
    const upd = (id: string, fn: (c: LiveView) => LiveView) =>
      setCalls((all) => ({ ...all, [id]: fn(all[id] ?? { callId: id, transcript: [], turns: [] }) }));
    api
      .events((type, ev) => {
        if (type === 'snapshot') {
          const next: Record<string, LiveView> = {};
          for (const c of (ev.calls as Json[]) ?? []) {
            const id = String(c.callId);
            next[id] = {
              callId: id,
              protocol: String(c.protocol),
              assistantId: String(c.assistantId),
              state: c.state as string,
              transcript: [],
              turns: [],
            };
          }
          setCalls(next);
          return;
        }
        const id = String(ev.callId);
        const data = (ev.data ?? {}) as Json;
        if (type === 'call.started')
          upd(id, (c) => ({ ...c, protocol: String(data.protocol), assistantId: String(data.assistantId) }));
        else if (type === 'state') upd(id, (c) => ({ ...c, state: String(data.state) }));
        else if (type === 'transcript' && typeof data.text === 'string' && !data.superseded)
          upd(id, (c) => ({
            ...c,
            transcript: [...c.transcript, { role: String(data.role), text: String(data.text) }],
          }));
        else if (type === 'turn') upd(id, (c) => ({ ...c, turns: [...c.turns, data] }));
        else if (type === 'call.ended')
          upd(id, (c) => ({ ...c, ended: String(data.outcome ?? 'ended'), state: 'ended' }));
      }, ctrl.signal)
      .catch(setError);
    return () => ctrl.abort();
  }, [api]);
  const [msg, setMsg] = useState<unknown>(undefined);
  const control = async (id: string, action: 'hangup' | 'transfer') => {
    setMsg(undefined);
    try {
      const target = action === 'transfer' ? window.prompt('Transfer to (number or SIP URI)') : undefined;
      if (action === 'transfer' && !target) return;
      await api.request('POST', `/api/v1/calls/${encodeURIComponent(id)}/${action}`, target ? { target } : {});
    } catch (err) {
      setMsg(err);
    }
  };
  const list = Object.values(calls);
  return html`<section aria-labelledby="h-live"><h2 id="h-live">Live calls</h2>
    <${ErrorBox} error=${error ?? msg} />
    ${list.length ? null : html`<p class="muted">No call in progress. Start one from “Talk to an agent”.</p>`}
    ${list.map(
      (c) => html`<article class="live-call" data-call=${c.callId}>
        <header><code>${c.callId}</code> <span class="badge">${c.protocol ?? ''}</span> <span class="badge state">${c.state ?? 'starting'}</span>
          ${
            c.ended
              ? html`<span class="badge">${c.ended}</span>`
              : html`<button onClick=${() => control(c.callId, 'hangup')}>Hang up</button>
          <button onClick=${() => control(c.callId, 'transfer')}>Transfer</button>`
          }</header>
        <ol class="transcript">${c.transcript.map((t) => html`<li class=${t.role}><b>${t.role === 'user' ? 'Caller' : 'Agent'}:</b> ${t.text}</li>`)}</ol>
        ${c.turns.length ? html`<p class="muted">Last turn: voice-to-voice ${fmtMs(c.turns[c.turns.length - 1]?.voiceToVoiceMs)}, endpointing ${fmtMs(c.turns[c.turns.length - 1]?.endpointingMs)}, LLM first token ${fmtMs(c.turns[c.turns.length - 1]?.llmFirstTokenMs)}</p>` : null}
      </article>`,
    )}
  </section>`;
}
