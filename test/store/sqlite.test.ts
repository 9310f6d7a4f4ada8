import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { storeContract } from './contract.js';

describe('SQLite store: repository contract', () => {
  let dir = '';
  storeContract({
    async open() {
      dir = mkdtempSync(path.join(tmpdir(), 'store-'));
      return openStore({ dataDir: dir });
    },
    async another() {
      return openStore({ dataDir: dir });
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  });
});

describe('SQLite migrations', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('upgrades a file written by an older version (versioned migrations)', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'store-'));
    const file = path.join(dir, 'old.db');
    const old = new Database(file);
    old.exec(MIGRATIONS[0]!);
    old.pragma('user_version = 1');
    old
      .prepare(
        "INSERT INTO tenants (id, email, credit_cents, created_at) VALUES ('t_old', 'old@x', 5, '2020-01-01T00:00:00.000Z')",
      )
      .run();
    old.close();
    const store = openStore({ file });
    expect((await store.tenants.get('t_old'))?.creditCents).toBe(5);
    expect(await store.outbound.claimIdempotencyKey('t_old', 'k', 1000)).toEqual({ ok: true });
    await store.close();
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    check.close();
  });

  it('keeps data across reopen (migrations are idempotent)', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'store-'));
    let store = openStore({ dataDir: dir });
    const t = await store.tenants.create({ email: 'keep@x' });
    await store.close();
    store = openStore({ dataDir: dir });
    expect((await store.tenants.get(t.id))?.email).toBe('keep@x');
    await store.close();
  });
});
