import pg from 'pg';
import { retry } from '../../retry.js';
import { PG_MIGRATIONS } from './migrations.js';

export type Pool = pg.Pool;
/** What a repository needs to run a statement: the pool, or one client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

/** Postgres could not be reached or set up at start: `voice-engine serve` prints the message and exits 4. */
export class StoreUnavailableError extends Error {
  readonly exitCode = 4;
}

/** The URL with its password masked, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable DATABASE_URL)';
  }
}

// COUNT(*), BIGINT epoch-ms columns and identity sequences come back as int8, which pg returns as strings by default
// (they can exceed 2^53). Ours never do (epoch ms, row counts), so read them as numbers: the row mappers are shared
// with the SQLite store and expect numbers.
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/** Connects (failing fast with a clear message when Postgres is unreachable) and applies pending migrations. */
export async function openPool(url: string, opts: { max?: number; connectTimeoutMs?: number } = {}): Promise<Pool> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    // A statement on a connection that died silently (server restarted) fails after this instead of hanging a loop
    // (heartbeat, outbox) forever.
    query_timeout: 15_000,
    types,
  });
  // An idle client losing its connection (Postgres restarted) emits 'error' on the pool; without a listener that
  // would crash the process. The pool drops that client and the next query opens a fresh connection.
  pool.on('error', () => {});
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end().catch(() => {});
    const e = err as NodeJS.ErrnoException;
    throw new StoreUnavailableError(
      `cannot use Postgres at ${redactUrl(url)}: ${e.code ? `${e.code} ` : ''}${e.message || String(err)} (check DATABASE_URL and that the server is up)`,
    );
  }
  return pool;
}

/**
 * Forward-only versioned migrations: `schema_migrations` holds each applied version. An advisory lock serializes
 * engines starting at the same time against one database, so each migration runs exactly once.
 */
async function migrate(pool: Pool): Promise<void> {
  const c = await pool.connect();
  c.on('error', ignore);
  try {
    await c.query('SELECT pg_advisory_lock(727001)');
    await c.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
    );
    const { rows } = await c.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
    const current = rows[0]?.v ?? 0;
    for (let v = current; v < PG_MIGRATIONS.length; v++) {
      await c.query('BEGIN');
      try {
        await c.query(PG_MIGRATIONS[v]!);
        await c.query('INSERT INTO schema_migrations (version) VALUES ($1)', [v + 1]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK');
        throw err;
      }
    }
  } finally {
    await c.query('SELECT pg_advisory_unlock(727001)').catch(() => {});
    c.off('error', ignore);
    c.release();
  }
}

/**
 * Errors that mean the statement did not take effect because the server went away or is not back yet (a restart,
 * a failover): refused or reset connections, "terminating connection due to administrator command" (57P01/57P02),
 * "the database system is starting up" (57P03), connection-class SQLSTATEs (08…). Postgres rolls back whatever
 * transaction the connection had open, so running it again is safe.
 */
function isConnectionLoss(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e.code && (/^(08|57P0[123])/.test(e.code) || ['ECONNREFUSED', 'ECONNRESET', 'EPIPE'].includes(e.code))) {
    return true;
  }
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(e.message ?? '');
}

/** How long statements keep retrying across a Postgres restart before the error reaches the caller, ms. */
const RETRY_FOR_MS = 20_000;

/**
 * Runs `fn`, again after a connection loss (with back-off, for up to RETRY_FOR_MS): a call record written, a webhook
 * enqueued or a call queued while Postgres restarts lands when it is back instead of being lost.
 */
function retrying<T>(fn: () => Promise<T>): Promise<T> {
  return retry(fn, {
    backoff: { baseMs: 100, maxMs: 2000 },
    deadline: Date.now() + RETRY_FOR_MS,
    retryable: isConnectionLoss,
  });
}

/** Runs `fn` in one transaction on one pooled client; rolls back on any error; re-runs it after a connection loss. */
export async function tx<T>(pool: Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  return retrying(async () => {
    const c = await pool.connect();
    // A checked-out client whose server goes away emits 'error' with no pool listener attached: without this the
    // process would crash; the failed query rejects anyway and the transaction is retried.
    c.on('error', ignore);
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.off('error', ignore);
      c.release();
    }
  });
}

function ignore(): void {}

/** A statement on the pool (retried across a restart), or on a transaction's client (the transaction retries). */
function query<R extends pg.QueryResultRow>(q: Queryable, sql: string, args: unknown[]): Promise<pg.QueryResult<R>> {
  return 'release' in q ? q.query<R>(sql, args) : retrying(() => q.query<R>(sql, args));
}

export async function one<R extends pg.QueryResultRow>(
  q: Queryable,
  sql: string,
  args: unknown[] = [],
): Promise<R | undefined> {
  return (await query<R>(q, sql, args)).rows[0];
}

export async function all<R extends pg.QueryResultRow>(q: Queryable, sql: string, args: unknown[] = []): Promise<R[]> {
  return (await query<R>(q, sql, args)).rows;
}

/** Rows changed by an INSERT / UPDATE / DELETE. */
export async function run(q: Queryable, sql: string, args: unknown[] = []): Promise<number> {
  return (await query(q, sql, args)).rowCount ?? 0;
}
