import { createSecretBox, type SecretKeys } from '../secrets.js';
import type { Store } from '../types.js';
import { pgAccount, pgNumberRouting, resealPgPluginConfigs } from './account.js';
import { pgAnalytics } from './analytics.js';
import { pgAssistants, resealPgAssistantKeys } from './assistants.js';
import { pgCalls } from './calls.js';
import { pgCampaigns } from './campaigns.js';
import { openPool } from './database.js';
import { pgEngines, pgRateCounters } from './engines.js';
import { pgMessages } from './messages.js';
import { pgControl } from './notify.js';
import { pgOutbound } from './outbound.js';
import { pgApiKeys, pgTenants } from './tenants.js';
import { pgWebhooks, resealPgWebhookSecrets } from './webhooks.js';

/**
 * The shared store (DESIGN.md 9): every repository on one Postgres database, so many engine processes behave as one.
 * Throws StoreUnavailableError (exit code 4 from `serve`) when the database cannot be reached or migrated.
 */
export async function openPostgresStore(
  url: string,
  opts: { poolSize?: number; secrets?: SecretKeys } = {},
): Promise<Store> {
  const pool = await openPool(url, { max: opts.poolSize ?? 10 });
  // Engines sharing one database must share SECRETS_KEY (a key file is per machine).
  const box = createSecretBox(opts.secrets ?? {});
  await resealPgAssistantKeys(pool, box);
  await resealPgPluginConfigs(pool, box);
  await resealPgWebhookSecrets(pool, box);
  let closed: Promise<void> | undefined;
  return {
    tenants: pgTenants(pool),
    apiKeys: pgApiKeys(pool),
    assistants: pgAssistants(pool, box),
    calls: pgCalls(pool),
    numberRouting: pgNumberRouting(pool),
    account: pgAccount(pool, box),
    webhooks: pgWebhooks(pool, box),
    analytics: pgAnalytics(pool),
    outbound: pgOutbound(pool),
    campaigns: pgCampaigns(pool),
    messages: pgMessages(pool),
    engines: pgEngines(pool),
    rateCounters: pgRateCounters(pool),
    control: pgControl(url, pool),
    shared: true,
    async ping() {
      if (closed) return false;
      try {
        await pool.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    close() {
      closed ??= pool.end();
      return closed;
    },
  };
}
