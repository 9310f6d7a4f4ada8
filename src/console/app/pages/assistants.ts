import type { VNode } from 'preact';
import { useState } from 'preact/hooks';
import type { Api, Json } from '../api.js';
import { ErrorBox, html, useLoad } from '../ui.js';

const BLOCKS = ['settings', 'asr', 'llm', 'tts', 'dtmf', 'rag', 'tools', 'hangup', 'precall'] as const;

/** Assistants: list, create, edit prompt and first message, providers from the catalog, each block as JSON. */
export function Assistants({ api }: { api: Api }): VNode {
  const list = useLoad(() => api.list<Json>('/api/v1/assistants'));
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const create = async () => {
    setError(undefined);
    try {
      const a = await api.request<Json>('POST', '/api/v1/assistants', {
        name: `Assistant ${new Date().toLocaleTimeString()}`,
        firstMessage: 'Hello! How can I help you today?',
      });
      list.reload();
      setSelected(String(a.assistantApiKey));
    } catch (err) {
      setError(err);
    }
  };
  return html`<section aria-labelledby="h-assistants">
    <h2 id="h-assistants">Assistants</h2>
    <button id="new-assistant" onClick=${create}>New assistant</button>
    <${ErrorBox} error=${error ?? list.error} />
    <table class="list">
      <thead><tr><th>Name</th><th>Id</th><th>Assistant API key</th><th>Updated</th></tr></thead>
      <tbody>${(list.data ?? []).map(
        (a) => html`<tr class=${selected === a.assistantApiKey ? 'selected' : ''}>
          <td><button class="link" onClick=${() => setSelected(String(a.assistantApiKey))}>${String(a.name ?? '(unnamed)')}</button></td>
          <td><code>${String(a.id)}</code></td><td><code class="key">${String(a.assistantApiKey)}</code></td>
          <td>${String(a.updatedAt ?? '')}</td></tr>`,
      )}</tbody>
    </table>
    ${selected ? html`<${Editor} key=${selected} api=${api} astKey=${selected} onSaved=${list.reload} />` : null}
  </section>`;
}

function Editor({ api, astKey, onSaved }: { api: Api; astKey: string; onSaved: () => void }): VNode {
  const base = `/api/v1/assistants/${encodeURIComponent(astKey)}`;
  const prompt = useLoad(() => api.get<{ prompt: string; firstMessage: string }>(`${base}/prompt`), [astKey]);
  const [msg, setMsg] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const save = async (what: string, fn: () => Promise<unknown>) => {
    setError(undefined);
    setMsg(undefined);
    try {
      await fn();
      setMsg(`${what} saved.`);
      onSaved();
      prompt.reload();
    } catch (err) {
      setError(err);
    }
  };
  const p = prompt.data;
  return html`<div class="editor" aria-label="Assistant editor">
    <h3>Edit <code>${astKey.slice(0, 12)}…</code></h3>
    <${ErrorBox} error=${error ?? prompt.error} />
    ${msg ? html`<div class="ok" role="status">${msg}</div>` : null}
    ${
      p
        ? html`<form onSubmit=${(e: Event) => {
            e.preventDefault();
            const f = new FormData(e.target as HTMLFormElement);
            void save('Prompt', () =>
              api.request('PATCH', `${base}/prompt`, {
                prompt: String(f.get('prompt')),
                firstMessage: String(f.get('firstMessage')),
              }),
            );
          }}>
          <label>Prompt <textarea name="prompt" rows="5">${p.prompt}</textarea></label>
          <label>First message <input name="firstMessage" value=${p.firstMessage} /></label>
          <button type="submit">Save prompt</button>
        </form>`
        : null
    }
    <div class="row">${(['asr', 'llm', 'tts'] as const).map((k) => html`<${ProviderPick} key=${k} api=${api} base=${base} kind=${k} save=${save} />`)}</div>
    <h4>Configuration blocks</h4>
    <p class="muted">Each block is validated by the engine's schema; errors name the field.</p>
    ${BLOCKS.map((b) => html`<${BlockEditor} key=${b} api=${api} path=${`${base}/runtime/${b}`} name=${b} />`)}
  </div>`;
}

/** A provider picker from the catalog, showing the assistant's current choice. */
function ProviderPick(props: {
  api: Api;
  base: string;
  kind: 'asr' | 'llm' | 'tts';
  save: (what: string, fn: () => Promise<unknown>) => Promise<void>;
}): VNode {
  const { api, base, kind, save } = props;
  const providers = useLoad(() => api.list<Json>(`/api/v1/catalog/providers/${kind}`), [kind]);
  const current = useLoad(() => api.get<Json>(`${base}/runtime/${kind}`), [base, kind]);
  const chosen = String(current.data?.provider ?? '');
  const change = (e: Event) => {
    const provider = (e.target as HTMLSelectElement).value;
    void save(`${kind.toUpperCase()} provider`, () => api.request('PATCH', `${base}/runtime/${kind}`, { provider }));
  };
  return html`<label>${kind.toUpperCase()} provider
    <select value=${chosen} onChange=${change}>
      <option value="">(default)</option>
      ${(providers.data ?? []).map(
        (p) =>
          html`<option value=${String(p.id)}>${String(p.name ?? p.id)}${p.configured === false ? ' (not configured)' : ''}</option>`,
      )}
    </select></label>`;
}

function BlockEditor({ api, path, name }: { api: Api; path: string; name: string }): VNode {
  const block = useLoad(() => api.get<Json>(path), [path]);
  const [text, setText] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [saved, setSaved] = useState(false);
  const value = text ?? JSON.stringify(block.data ?? {}, null, 2);
  const save = async () => {
    setError(undefined);
    setSaved(false);
    try {
      const body = JSON.parse(value) as unknown;
      await api.request('PATCH', path, body);
      setSaved(true);
      block.reload();
      setText(undefined);
    } catch (err) {
      setError(err instanceof SyntaxError ? new Error(`${name}: not valid JSON (${err.message})`) : err);
    }
  };
  return html`<details><summary>${name}</summary>
    <textarea aria-label=${`${name} JSON`} rows="6" value=${value} onInput=${(e: Event) => setText((e.target as HTMLTextAreaElement).value)}></textarea>
    <button onClick=${save}>Save ${name}</button> ${saved ? html`<span class="ok">saved</span>` : null}
    <${ErrorBox} error=${error ?? block.error} />
  </details>`;
}
