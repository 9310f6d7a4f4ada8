import type { VNode } from 'preact';
import { useState } from 'preact/hooks';
import type { Api, Json } from '../api.js';
import { ErrorBox, html, useLoad } from '../ui.js';

/** Knowledge base: upload with progress, list and delete documents, try a search. */
export function Knowledge({ api }: { api: Api }): VNode {
  const cols = useLoad(() => api.list<Json>('/api/v1/catalog/rag/collections'));
  const [collection, setCollection] = useState('docs');
  const docs = useLoad(
    () => api.list<Json>(`/api/v1/rag/collections/${encodeURIComponent(collection)}/documents`).catch(() => []),
    [collection],
  );
  const [progress, setProgress] = useState<number | undefined>(undefined);
  const [query, setQuery] = useState('');
  const [hits, setHits] = useState<Json[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const upload = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    const form = new FormData(e.target as HTMLFormElement);
    try {
      setProgress(0);
      await api.upload(`/api/v1/rag/collections/${encodeURIComponent(collection)}/documents`, form, setProgress);
      docs.reload();
      cols.reload();
    } catch (err) {
      setError(err);
    } finally {
      setProgress(undefined);
    }
  };
  const search = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const r = await api.request<{ hits: Json[] }>(
        'POST',
        `/api/v1/rag/collections/${encodeURIComponent(collection)}/search`,
        { query, topK: 5 },
      );
      setHits(r.hits);
    } catch (err) {
      setError(err);
    }
  };
  const del = async (id: string) => {
    try {
      await api.request(
        'DELETE',
        `/api/v1/rag/collections/${encodeURIComponent(collection)}/documents/${encodeURIComponent(id)}`,
      );
      docs.reload();
    } catch (err) {
      setError(err);
    }
  };
  return html`<section aria-labelledby="h-kb"><h2 id="h-kb">Knowledge</h2>
    <label>Collection <input id="collection" list="collections" value=${collection} onChange=${(e: Event) => setCollection((e.target as HTMLInputElement).value)} /></label>
    <datalist id="collections">${(cols.data ?? []).map((c) => html`<option value=${String(c.name ?? c)} />`)}</datalist>
    <form class="row" onSubmit=${upload}>
      <label>Document <input id="file" type="file" name="file" required /></label>
      <button type="submit">Upload</button>
      ${progress !== undefined ? html`<progress max="1" value=${progress} aria-label="Upload progress"></progress>` : null}
    </form>
    <${ErrorBox} error=${error ?? cols.error} />
    <table class="list"><thead><tr><th>Document</th><th>Chunks</th><th>Added</th><th></th></tr></thead>
    <tbody>${(docs.data ?? []).map(
      (
        d,
      ) => html`<tr><td>${String(d.name ?? d.id)}</td><td>${String(d.chunks ?? '')}</td><td>${String(d.createdAt ?? '')}</td>
        <td><button onClick=${() => del(String(d.id))}>Delete</button></td></tr>`,
    )}</tbody></table>
    <form class="row" onSubmit=${search}><label>Try a search <input id="query" value=${query} onInput=${(e: Event) => setQuery((e.target as HTMLInputElement).value)} /></label><button type="submit">Search</button></form>
    ${hits ? html`<ol class="hits">${hits.map((h) => html`<li><span class="badge">${Number(h.score ?? 0).toFixed(3)}</span> ${String(h.text ?? '')}</li>`)}</ol>` : null}
    ${hits && !hits.length ? html`<p class="muted">No match.</p>` : null}
  </section>`;
}
