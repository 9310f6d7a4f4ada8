import type { VNode } from 'preact';
import { useState } from 'preact/hooks';
import type { Api, Json } from '../api.js';
import { ErrorBox, html, useLoad } from '../ui.js';

/** Portal API keys: create with a label (the secret is shown once), list, revoke. */
export function Keys({ api }: { api: Api }): VNode {
  const keys = useLoad(() => api.list<Json>('/api/v1/account/api-keys'));
  const [label, setLabel] = useState('');
  const [environment, setEnvironment] = useState('production');
  const [secret, setSecret] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const r = await api.request<Json>('POST', '/api/v1/account/api-keys', {
        label: label || 'console',
        ...(environment !== 'production' ? { environment } : {}),
      });
      setSecret(String(r.portalApiKey ?? r.secret ?? ''));
      keys.reload();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (id: string) => {
    setError(undefined);
    try {
      await api.request('DELETE', `/api/v1/account/api-keys/${encodeURIComponent(id)}`);
      keys.reload();
    } catch (err) {
      setError(err);
    }
  };
  return html`<section aria-labelledby="h-keys"><h2 id="h-keys">API keys</h2>
    <form class="row" onSubmit=${create}>
      <label>Label <input value=${label} onInput=${(e: Event) => setLabel((e.target as HTMLInputElement).value)} /></label>
      <label>Environment <select value=${environment} onChange=${(e: Event) => setEnvironment((e.target as HTMLSelectElement).value)}>
        <option value="production">production</option><option value="test">test</option></select></label>
      <button type="submit">Create key</button>
    </form>
    ${secret ? html`<div class="ok" role="status">New key (shown once, copy it now): <code class="key">${secret}</code></div>` : null}
    <${ErrorBox} error=${error ?? keys.error} />
    <table class="list"><thead><tr><th>Label</th><th>Prefix</th><th>Environment</th><th>Created</th><th>Last used</th><th></th></tr></thead>
    <tbody>${(keys.data ?? []).map(
      (k) => html`<tr><td>${String(k.label ?? '')}</td><td><code>${String(k.prefix ?? '')}…</code></td>
        <td>${String(k.environment ?? 'production')}</td><td>${String(k.createdAt ?? '')}</td><td>${String(k.lastUsedAt ?? '—')}</td>
        <td>${k.revokedAt ? 'revoked' : html`<button onClick=${() => revoke(String(k.id))}>Revoke</button>`}</td></tr>`,
    )}</tbody></table>
  </section>`;
}
