import { render, type VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Api } from './api.js';
import { Analytics } from './pages/analytics.js';
import { Assistants } from './pages/assistants.js';
import { Calls } from './pages/calls.js';
import { Keys } from './pages/keys.js';
import { Knowledge } from './pages/knowledge.js';
import { Live } from './pages/live.js';
import { SignIn } from './pages/signin.js';
import { Talk } from './pages/talk.js';
import { Webhooks } from './pages/webhooks.js';
import { html } from './ui.js';

/** The console: one page per concern, hash routes (#/calls/c_…) so links and the back button work. */
const PAGES = [
  ['assistants', 'Assistants'],
  ['talk', 'Talk to an agent'],
  ['live', 'Live calls'],
  ['calls', 'Call history'],
  ['knowledge', 'Knowledge'],
  ['analytics', 'Analytics'],
  ['webhooks', 'Webhooks'],
  ['keys', 'API keys'],
] as const;

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/assistants');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/assistants');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function App(): VNode {
  const [api, setApi] = useState<Api | undefined>(undefined);
  const hash = useHash();
  if (!api) return html`<${SignIn} onSignedIn=${setApi} />`;
  const [, page = 'assistants', arg] = hash.split('/');
  const go = (h: string) => {
    location.hash = h;
  };
  const body = (() => {
    switch (page) {
      case 'talk':
        return html`<${Talk} api=${api} />`;
      case 'live':
        return html`<${Live} api=${api} />`;
      case 'calls':
        return html`<${Calls} api=${api} openId=${arg} go=${go} />`;
      case 'knowledge':
        return html`<${Knowledge} api=${api} />`;
      case 'analytics':
        return html`<${Analytics} api=${api} />`;
      case 'webhooks':
        return html`<${Webhooks} api=${api} />`;
      case 'keys':
        return html`<${Keys} api=${api} />`;
      default:
        return html`<${Assistants} api=${api} />`;
    }
  })();
  return html`<div class="layout">
    <nav aria-label="Sections"><strong>voice-engine</strong>
      <ul>${PAGES.map(([id, label]) => html`<li><a href=${`#/${id}`} aria-current=${page === id ? 'page' : undefined}>${label}</a></li>`)}</ul>
      <p class="muted account">${api.creds.email}</p>
      <button onClick=${() => setApi(undefined)}>Sign out</button>
    </nav>
    <main>${body}</main>
  </div>`;
}

const root = document.getElementById('app');
if (root) render(html`<${App} />`, root);
