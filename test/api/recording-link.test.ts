import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecordingLinks } from '../../src/api/recording-link.js';
import { loadConfig } from '../../src/config.js';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
let links: ReturnType<typeof createRecordingLinks>;
const ids: string[] = [];

beforeAll(async () => {
  h = await startHarness({}, { PUBLIC_URL: 'https://engine.example.com' });
  links = createRecordingLinks(loadConfig({ DATA_DIR: h.dir, PUBLIC_URL: 'https://engine.example.com' }));
  const ast = (await h.call('POST', '/api/v1/assistants', { headers: h.a.h, body: {} })).body.data;
  for (const bytes of ['RIFF-call-one', 'RIFF-call-two']) {
    const c = await h.store.calls.create({
      tenantId: h.a.id,
      assistantId: ast.id,
      direction: 'inbound',
      status: 'completed',
      metadata: {},
    });
    // Where the recorder puts it (per tenant, named by our call id); the route finds it through the record.
    const rel = path.join('recordings', h.a.id, `${c.id}.wav`);
    mkdirSync(path.join(h.dir, 'recordings', h.a.id), { recursive: true });
    writeFileSync(path.join(h.dir, rel), bytes);
    await h.store.calls.update(c.id, { recordingPath: rel });
    ids.push(c.id);
  }
});
afterAll(async () => h.close());

const local = (url: string) => url.replace('https://engine.example.com', h.url);

describe('signed recording links', () => {
  it('an absolute link from PUBLIC_URL that serves that call without credentials until it expires', async () => {
    const link = links.url(ids[0]!)!;
    expect(link.url).toMatch(
      /^https:\/\/engine\.example\.com\/recordings\/c_[\w-]+\.wav\?expires=\d+&sig=[0-9a-f]{64}$/,
    );
    const r = await fetch(local(link.url));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('audio/wav');
    expect(await r.text()).toBe('RIFF-call-one');
  });

  it('refuses a tampered signature, another call with the same signature, and an expired link', async () => {
    const u = new URL(local(links.url(ids[0]!)!.url));
    const sig = u.searchParams.get('sig')!;
    const expires = u.searchParams.get('expires')!;
    const bad = `${h.url}/recordings/${ids[0]}.wav?expires=${expires}&sig=${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`;
    expect((await fetch(bad)).status).toBe(403);
    const other = `${h.url}/recordings/${ids[1]}.wav?expires=${expires}&sig=${sig}`;
    expect((await fetch(other)).status).toBe(403);
    const later = `${h.url}/recordings/${ids[0]}.wav?expires=${Number(expires) + 1}&sig=${sig}`;
    expect((await fetch(later)).status).toBe(403);
    const old = new URL(local(links.url(ids[0]!, Date.now() - 8 * 86_400_000)!.url));
    expect((await fetch(old)).status).toBe(403);
    expect((await fetch(`${h.url}/recordings/../../etc/passwd.wav?expires=1&sig=x`)).status).toBeGreaterThanOrEqual(
      400,
    );
    const r = await fetch(`${h.url}/recordings/${ids[0]}.wav`);
    expect(r.status).toBe(400);
  });

  it('no PUBLIC_URL: no link', () => {
    expect(createRecordingLinks(loadConfig({ DATA_DIR: h.dir })).url(ids[0]!)).toBeUndefined();
  });
});
