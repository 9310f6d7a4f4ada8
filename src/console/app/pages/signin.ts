import type { VNode } from 'preact';
import { useState } from 'preact/hooks';
import { Api, type Creds } from '../api.js';
import { ErrorBox, html } from '../ui.js';

/** Sign in with the portal credentials (POST /api/v1/auth/portal/login); they stay in this page's memory only. */
export function SignIn({ onSignedIn }: { onSignedIn: (api: Api) => void }): VNode {
  const [email, setEmail] = useState('');
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const creds: Creds = { email: email.trim(), key: key.trim() };
    const api = new Api(creds);
    try {
      await api.request('POST', '/api/v1/auth/portal/login', { email: creds.email, portalApiKey: creds.key });
      onSignedIn(api);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin">
    <h1>voice-engine console</h1>
    <form onSubmit=${submit} aria-label="Sign in">
      <label>Email <input id="email" type="email" required autocomplete="username" value=${email} onInput=${(e: Event) => setEmail((e.target as HTMLInputElement).value)} /></label>
      <label>Portal API key <input id="key" type="password" required autocomplete="current-password" value=${key} onInput=${(e: Event) => setKey((e.target as HTMLInputElement).value)} /></label>
      <button type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      <${ErrorBox} error=${error} />
      <p class="muted">The key stays in this tab's memory: reloading the page signs you out.</p>
    </form>
  </main>`;
}
