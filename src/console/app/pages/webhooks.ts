import type { VNode } from 'preact';
import { useState } from 'preact/hooks';
import type { Api, Json } from '../api.js';
import { ErrorBox, html, useLoad } from '../ui.js';

const EVENTS = ['call.started', 'call.ended', 'call.failed', 'call.status'];

/** Webhook endpoints: configure, see every delivery attempt and when the next retry is due. */
export function Webhooks({ api }: { api: Api }): VNode {
  const eps = useLoad(() => api.list<Json>('/api/v1/webhooks'));
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<string[]>(['call.ended']);
  const [secret, setSecret] = useState<string | undefined>(undefined);
  const [open, setOpen] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const act = async (fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      eps.reload();
    } catch (err) {
      setError(err);
    }
  };
  const create = (e: Event) => {
    e.preventDefault();
    void act(async () => {
      const r = await api.request<Json>('POST', '/api/v1/webhooks', { url, events });
      setSecret(String(r.secret ?? ''));
    });
  };
  return html`<section aria-labelledby="h-webhooks"><h2 id="h-webhooks">Webhooks</h2>
    <form onSubmit=${create}>
      <label>URL <input type="url" required value=${url} placeholder="https://example.com/hooks" onInput=${(e: Event) => setUrl((e.target as HTMLInputElement).value)} /></label>
      <fieldset><legend>Events</legend>${EVENTS.map(
        (ev) =>
          html`<label class="inline"><input type="checkbox" checked=${events.includes(ev)} onChange=${(e: Event) =>
            setEvents(
              (e.target as HTMLInputElement).checked ? [...events, ev] : events.filter((x) => x !== ev),
            )} /> ${ev}</label>`,
      )}</fieldset>
      <button type="submit">Add endpoint</button>
    </form>
    ${secret ? html`<div class="ok" role="status">Signing secret (shown once): <code class="key">${secret}</code></div>` : null}
    <${ErrorBox} error=${error ?? eps.error} />
    <table class="list"><thead><tr><th>URL</th><th>Events</th><th>Enabled</th><th></th></tr></thead>
    <tbody>${(eps.data ?? []).map(
      (e) => html`<tr><td>${String(e.url)}</td><td>${((e.events as string[]) ?? []).join(', ')}</td>
        <td><input type="checkbox" aria-label="enabled" checked=${e.enabled !== false} onChange=${(ev: Event) =>
          act(() =>
            api.request('PATCH', `/api/v1/webhooks/${e.id}`, { enabled: (ev.target as HTMLInputElement).checked }),
          )} /></td>
        <td><button onClick=${() => setOpen(open === e.id ? undefined : String(e.id))}>Deliveries</button>
          <button onClick=${() => act(() => api.request('DELETE', `/api/v1/webhooks/${e.id}`))}>Delete</button></td></tr>`,
    )}</tbody></table>
    ${open ? html`<${Deliveries} key=${open} api=${api} id=${open} />` : null}
  </section>`;
}

function Deliveries({ api, id }: { api: Api; id: string }): VNode {
  const d = useLoad(() => api.list<Json>(`/api/v1/webhooks/${encodeURIComponent(id)}/deliveries`), [id]);
  return html`<div><h3>Delivery attempts</h3><button onClick=${d.reload}>Refresh</button><${ErrorBox} error=${d.error} />
    <table class="list"><thead><tr><th>Event</th><th>Attempt</th><th>Result</th><th>Status</th><th>Time</th><th>Next retry</th></tr></thead>
    <tbody>${(d.data ?? []).map(
      (a) => html`<tr><td>${String(a.eventType ?? a.type ?? a.eventId ?? '')}</td><td>${String(a.attempt ?? '')}</td>
        <td>${a.ok ? 'delivered' : String(a.error ?? 'failed')}</td><td>${String(a.statusCode ?? '—')}</td>
        <td>${String(a.at ?? a.createdAt ?? '')}</td><td>${String(a.nextAttemptAt ?? '—')}</td></tr>`,
    )}</tbody></table></div>`;
}
