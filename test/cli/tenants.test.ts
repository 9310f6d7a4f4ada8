import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { CliError } from '../../src/cli/args.js';
import { run } from '../../src/cli/tenants.js';
import { openStore } from '../../src/store/index.js';

let dir: string;
let prev: string | undefined;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cli-tenants-'));
  prev = process.env.DATA_DIR;
  process.env.DATA_DIR = dir;
});
afterEach(() => {
  if (prev === undefined) delete process.env.DATA_DIR;
  else process.env.DATA_DIR = prev;
  rmSync(dir, { recursive: true, force: true });
});

it('adds a tenant and prints its key once; the key authenticates; list shows no secret', async () => {
  const out: string[] = [];
  expect(await run(['add', 'ops@example.com'], (l) => out.push(l))).toBe(0);
  const added = JSON.parse(out[0]!) as { portalApiKey: string; tenantId: string };
  const store = openStore({ dataDir: dir });
  expect((await store.apiKeys.verify(added.portalApiKey))?.tenant.id).toBe(added.tenantId);
  store.close();
  await expect(run(['add', 'ops@example.com'], () => {})).rejects.toBeInstanceOf(CliError);
  await expect(run(['add', 'nope'], () => {})).rejects.toThrow(/not an email/);
  const listed: string[] = [];
  expect(await run(['list'], (l) => listed.push(l))).toBe(0);
  expect(listed.join('\n')).toContain('ops@example.com');
  expect(listed.join('\n')).not.toContain(added.portalApiKey);
  const key: string[] = [];
  await run(['key', 'ops@example.com', '--label', 'test'], (l) => key.push(l));
  const k = JSON.parse(key[0]!) as { keyId: string };
  expect(await run(['revoke', 'ops@example.com', k.keyId], () => {})).toBe(0);
});
