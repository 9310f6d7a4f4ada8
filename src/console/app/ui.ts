import htm from 'htm';
import { h, type VNode } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError } from './api.js';

export const html = htm.bind(h) as (strings: TemplateStringsArray, ...values: unknown[]) => VNode;

/** Every API error in words: what failed, the engine's message and its stable code. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}

export function ErrorBox({ error }: { error?: unknown }): VNode | null {
  if (!error) return null;
  return html`<div class="error" role="alert">${errorText(error)}</div>`;
}

/** Loads `fn` on mount and whenever `deps` change; `reload()` runs it again. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[] = []) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  // Callers pass their own dependency list (the loader closes over them).
  const reload = useCallback(() => {
    setLoading(true);
    fn().then(
      (d) => {
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        setError(e);
        setLoading(false);
      },
    );
  }, deps);
  useEffect(reload, [reload]);
  return { data, error, loading, reload, setData };
}

export const fmtMs = (v: unknown): string => (typeof v === 'number' ? `${Math.round(v)} ms` : '—');
export const fmtDate = (v: unknown): string => (typeof v === 'string' ? new Date(v).toLocaleString() : '—');
export const fmtDuration = (ms: unknown): string =>
  typeof ms === 'number'
    ? `${Math.floor(ms / 60000)}:${String(Math.round((ms % 60000) / 1000)).padStart(2, '0')}`
    : '—';
