import path from 'node:path';
import { localControl } from './local-control.js';
import { StoreUnavailableError } from './postgres/database.js';
import { openPostgresStore } from './postgres/index.js';
import { createSecretBox, type SecretKeys } from './secrets.js';
import { sqliteAccount, sqliteNumberRouting } from './sqlite/account.js';
import { sqliteAnalytics } from './sqlite/analytics.js';
import { sqliteAssistants } from './sqlite/assistants.js';
import { sqliteCalls } from './sqlite/calls.js';
import { sqliteCampaigns } from './sqlite/campaigns.js';
import { openDatabase } from './sqlite/database.js';
import { sqliteEngines, sqliteRateCounters } from './sqlite/engines.js';
import { sqliteMessages } from './sqlite/messages.js';
import { sqliteOutbound } from './sqlite/outbound.js';
import { sqliteApiKeys, sqliteTenants } from './sqlite/tenants.js';
import { sqliteWebhooks } from './sqlite/webhooks.js';
import type { Store } from './types.js';

export { testModeOf } from './environment.js';
export { StoreUnavailableError } from './postgres/database.js';
export { openPostgresStore } from './postgres/index.js';
export { normalizeNumber } from './sqlite/account.js';
export type * from './types.js';
export { ACTIVE_CALL_STATUSES, CALL_STATUSES, WEBHOOK_EVENT_TYPES } from './types.js';

/**
 * The store the environment asks for: Postgres when DATABASE_URL is a postgres:// URL (shared by many engine
 * processes), else the embedded SQLite file under DATA_DIR.
 */
export async function connectStore(opts: {
  dataDir: string;
  databaseUrl?: string;
  /** SECRETS_KEY / SECRETS_KEY_PREVIOUS (src/store/secrets.ts); the key file in dataDir otherwise. */
  secretsKey?: string;
  secretsKeyPrevious?: string;
}): Promise<Store> {
  const secrets: SecretKeys = {
    ...(opts.secretsKey ? { key: opts.secretsKey } : {}),
    ...(opts.secretsKeyPrevious ? { previous: opts.secretsKeyPrevious } : {}),
    keyFile: path.join(opts.dataDir, 'secrets.key'),
  };
  if (opts.databaseUrl) {
    if (!/^postgres(ql)?:\/\//.test(opts.databaseUrl)) {
      throw new StoreUnavailableError('DATABASE_URL must be a postgres:// (or postgresql://) URL; unset it for SQLite');
    }
    return openPostgresStore(opts.databaseUrl, { secrets });
  }
  return openStore({ dataDir: opts.dataDir, secrets });
}

/**
 * The embedded store: one SQLite file, DATA_DIR/engine.db (or an explicit file, ':memory:' for throwaway use).
 * Secrets are sealed with `secrets`, by default the key file beside the database (none for ':memory:').
 */
export function openStore(opts: ({ dataDir: string } | { file: string }) & { secrets?: SecretKeys }): Store {
  const file = 'file' in opts ? opts.file : path.join(opts.dataDir, 'engine.db');
  const db = openDatabase(file);
  const box = createSecretBox(
    opts.secrets ?? (file === ':memory:' ? {} : { keyFile: path.join(path.dirname(file), 'secrets.key') }),
  );
  const ping = db.prepare('SELECT 1 AS ok');
  let closed = false;
  let assistants: Store['assistants'];
  let account: Store['account'];
  let webhooks: Store['webhooks'];
  try {
    // Both re-seal what they find under an older key; a key that opens nothing throws here, at start.
    assistants = sqliteAssistants(db, box);
    account = sqliteAccount(db, box);
    webhooks = sqliteWebhooks(db, box);
  } catch (err) {
    db.close();
    throw err;
  }
  return {
    tenants: sqliteTenants(db),
    apiKeys: sqliteApiKeys(db),
    assistants,
    calls: sqliteCalls(db),
    numberRouting: sqliteNumberRouting(db),
    account,
    webhooks,
    analytics: sqliteAnalytics(db),
    outbound: sqliteOutbound(db),
    campaigns: sqliteCampaigns(db),
    messages: sqliteMessages(db),
    engines: sqliteEngines(db),
    rateCounters: sqliteRateCounters(db),
    control: localControl(),
    shared: false,
    async ping() {
      return !closed && ping.get() !== undefined;
    },
    async close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
