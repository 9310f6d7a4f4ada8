/**
 * The console's only way to the engine: the public REST API and the live-events stream, authenticated with the
 * portal credentials kept in memory (never in storage, never in a cookie: nothing another site could ride on).
 */
export interface Creds {
  email: string;
  key: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type Json = Record<string, unknown>;

export class Api {
  constructor(readonly creds: Creds) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { 'x-client-email': this.creds.email, 'x-portal-api-key': this.creds.key, ...extra };
  }

  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: this.headers(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw new ApiError(0, 'NETWORK', `The engine could not be reached (${(err as Error).message}).`);
    }
    const text = await res.text();
    let parsed: Json = {};
    try {
      parsed = text ? (JSON.parse(text) as Json) : {};
    } catch {
      // not JSON: reported below with the status
    }
    if (!res.ok || parsed.status === 'error') {
      const e = (parsed.error ?? {}) as { code?: string; message?: string };
      throw new ApiError(
        res.status,
        e.code ?? `HTTP_${res.status}`,
        e.message ?? `Request failed (HTTP ${res.status}).`,
      );
    }
    return (parsed.data ?? parsed) as T;
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** Lists come as an array or as a page `{rows, nextCursor}`. */
  async list<T = Json>(path: string): Promise<T[]> {
    const d = await this.get<T[] | { rows: T[] }>(path);
    return Array.isArray(d) ? d : (d.rows ?? []);
  }

  /** A binary resource (a recording) as an object URL. */
  async blobUrl(path: string): Promise<string> {
    const res = await fetch(path, { headers: this.headers() });
    if (!res.ok) throw new ApiError(res.status, `HTTP_${res.status}`, `Could not load ${path} (HTTP ${res.status}).`);
    return URL.createObjectURL(await res.blob());
  }

  /** Multipart upload with progress (fetch has no upload progress; XMLHttpRequest does). */
  upload(path: string, form: FormData, onProgress: (fraction: number) => void): Promise<Json> {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', path);
      for (const [k, v] of Object.entries(this.headers())) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      };
      xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'Upload failed: the engine could not be reached.'));
      xhr.onload = () => {
        let body: Json = {};
        try {
          body = JSON.parse(xhr.responseText) as Json;
        } catch {
          // reported with the status
        }
        if (xhr.status >= 400) {
          const e = (body.error ?? {}) as { code?: string; message?: string };
          reject(
            new ApiError(
              xhr.status,
              e.code ?? `HTTP_${xhr.status}`,
              e.message ?? `Upload failed (HTTP ${xhr.status}).`,
            ),
          );
        } else resolve((body.data ?? body) as Json);
      };
      xhr.send(form);
    });
  }

  /**
   * The live-events stream (server-sent events over fetch, so the credentials travel as headers). Calls `onEvent`
   * per event until `signal` aborts; reconnects after a dropped connection.
   */
  async events(onEvent: (type: string, data: Json) => void, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const res = await fetch('/api/v1/events', { headers: this.headers(), signal });
        if (!res.ok || !res.body) throw new ApiError(res.status, `HTTP_${res.status}`, 'live events refused');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i = buf.indexOf('\n\n');
          while (i >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let type = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) type = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (data) onEvent(type, JSON.parse(data) as Json);
            i = buf.indexOf('\n\n');
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) throw err;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
