import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectStore, openPostgresStore, StoreUnavailableError } from '../../src/store/index.js';
import { PG_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { storeContract } from './contract.js';
import { findPgBin, PG_SKIP_REASON, type PgCluster, startPgCluster } from './pg-cluster.js';

const hasPg = findPgBin() !== undefined;
if (!hasPg) process.stderr.write(`${PG_SKIP_REASON}\n`);

describe.skipIf(!hasPg)('Postgres store', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPgCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  describe('repository contract', () => {
    let url = '';
    storeContract({
      async open() {
        url = await cluster.newDatabase();
        return openPostgresStore(url);
      },
      async another() {
        return openPostgresStore(url);
      },
    });
  });

  it('migrates forward once, recording each version, even with engines starting together', async () => {
    const url = await cluster.newDatabase();
    const stores = await Promise.all([openPostgresStore(url), openPostgresStore(url), openPostgresStore(url)]);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const { rows } = await c.query('SELECT version FROM schema_migrations ORDER BY version');
    await c.end();
    expect(rows.map((r) => r.version)).toEqual(PG_MIGRATIONS.map((_, i) => i + 1));
    for (const s of stores) await s.close();
  });

  it('keeps migrations in step with SQLite (one Postgres migration per SQLite migration)', () => {
    expect(PG_MIGRATIONS.length).toBe(MIGRATIONS.length);
  });
});

describe('Postgres unreachable at start', () => {
  it('fails fast with a clear error naming the URL without its password', async () => {
    // Port 1 on loopback: nothing listens there.
    const err = await connectStore({
      dataDir: '/nonexistent',
      databaseUrl: 'postgres://u:secret@127.0.0.1:1/db',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).exitCode).toBe(4);
    expect((err as Error).message).toMatch(
      /cannot use Postgres at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db: ECONNREFUSED/,
    );
    expect((err as Error).message).not.toContain('secret');
  });

  it('refuses a DATABASE_URL that is not postgres://', async () => {
    await expect(connectStore({ dataDir: '/x', databaseUrl: 'mysql://h/db' })).rejects.toThrow(/postgres:\/\//);
  });
});
