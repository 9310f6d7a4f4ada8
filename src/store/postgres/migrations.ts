/**
 * The Postgres schema, versioned like src/store/sqlite/migrations.ts and kept in step with it: migration N here does
 * what SQLite migration N does (same tables, same columns, same meaning), so the row mappers are shared. Differences
 * are only of dialect: a `seq` identity column where SQLite orders by rowid, BYTEA for BLOB, BIGINT for epoch-ms,
 * a unique index on lower(email) for COLLATE NOCASE. Timestamps stay ISO 8601 TEXT, as in SQLite, with the
 * byte-order "C" collation so range filters compare exactly as in SQLite whatever the database's locale. Applied versions are rows of `schema_migrations`. Never edit a shipped
 * migration: append a new one (and its SQLite twin).
 */
export const PG_MIGRATIONS: readonly string[] = [
  // 1: initial control-plane schema
  `
  CREATE TABLE tenants (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT,
    credit_cents BIGINT NOT NULL DEFAULT 0,
    created_at TEXT COLLATE "C" NOT NULL
  );
  CREATE UNIQUE INDEX tenants_email ON tenants (lower(email));
  CREATE TABLE api_keys (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    prefix TEXT NOT NULL,
    hash BYTEA NOT NULL UNIQUE,
    created_at TEXT COLLATE "C" NOT NULL,
    revoked_at TEXT COLLATE "C",
    last_used_at TEXT COLLATE "C"
  );
  CREATE INDEX api_keys_tenant ON api_keys(tenant_id);
  CREATE TABLE assistants (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    api_key TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    config TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
  );
  CREATE INDEX assistants_tenant ON assistants(tenant_id, seq);
  CREATE TABLE calls (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    assistant_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    status TEXT NOT NULL,
    from_number TEXT,
    to_number TEXT,
    protocol TEXT,
    provider_call_id TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at TEXT COLLATE "C" NOT NULL,
    started_at TEXT COLLATE "C",
    ended_at TEXT COLLATE "C",
    end_reason TEXT,
    duration_ms BIGINT,
    recording_path TEXT,
    summary TEXT,
    structured_output TEXT,
    structured_output_error TEXT
  );
  CREATE INDEX calls_tenant_created ON calls(tenant_id, created_at);
  CREATE INDEX calls_tenant_status ON calls(tenant_id, status);
  CREATE INDEX calls_tenant_seq ON calls(tenant_id, seq);
  CREATE TABLE call_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id TEXT NOT NULL,
    type TEXT NOT NULL,
    at TEXT COLLATE "C" NOT NULL,
    data TEXT NOT NULL
  );
  CREATE INDEX call_events_call ON call_events(call_id, seq);
  CREATE TABLE number_routes (
    number TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    assistant_id TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
  );
  CREATE INDEX number_routes_tenant ON number_routes(tenant_id);
  CREATE TABLE account_settings (
    tenant_id TEXT PRIMARY KEY,
    allowed_ips TEXT NOT NULL DEFAULT '[]',
    call_limits TEXT NOT NULL DEFAULT '{}'
  );
  CREATE TABLE plugin_instances (
    tenant_id TEXT NOT NULL,
    plugin_id TEXT NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    activated_at TEXT COLLATE "C",
    updated_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, plugin_id)
  );
  CREATE TABLE webhook_endpoints (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    description TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
  );
  CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints(tenant_id, seq);
  CREATE TABLE webhook_deliveries (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    delivered_at TEXT COLLATE "C",
    last_error TEXT
  );
  CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
  CREATE TABLE webhook_attempts (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at TEXT COLLATE "C" NOT NULL,
    ok INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms BIGINT NOT NULL
  );
  CREATE INDEX webhook_attempts_endpoint ON webhook_attempts(tenant_id, endpoint_id, seq);
  CREATE TABLE analytics_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT COLLATE "C" NOT NULL,
    data TEXT NOT NULL
  );
  CREATE INDEX analytics_events_kind ON analytics_events(tenant_id, kind, at);
  CREATE TABLE outbound_queue (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    assistant_id TEXT NOT NULL,
    to_number TEXT NOT NULL,
    from_number TEXT,
    channel TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    error TEXT,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
  );
  CREATE INDEX outbound_queue_due ON outbound_queue(status, next_attempt_at);
  `,
  // 2: idempotency keys for outbound call requests
  `
  CREATE TABLE idempotency_keys (
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    call_id TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, key)
  );
  `,
  // 3: engines sharing the store: call ownership with a heartbeat, shared rate-limit counters
  `
  ALTER TABLE calls ADD COLUMN owner_id TEXT;
  CREATE INDEX calls_owner ON calls(owner_id, status);
  CREATE TABLE engines (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
  );
  CREATE TABLE rate_counters (
    key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
  );
  `,
  // 4 (issue 11): assistant keys at rest, as SQLite migration 4
  `
  ALTER TABLE assistants ADD COLUMN api_key_enc TEXT;
  `,
  // 5 (issue 13): messaging conversations, as SQLite migration 5: every WhatsApp / SMS message per contact (the agent's history), unique on
  // the provider's message id per tenant (a webhook retried by Meta is recorded once and answered once), and which
  // assistant answers each contact.
  `
  CREATE TABLE messages (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    contact TEXT NOT NULL,
    direction TEXT NOT NULL,
    assistant_id TEXT,
    body TEXT NOT NULL,
    provider_message_id TEXT,
    status TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
  );
  CREATE UNIQUE INDEX messages_provider ON messages(tenant_id, channel, provider_message_id);
  CREATE INDEX messages_contact ON messages(tenant_id, channel, contact, seq);
  CREATE TABLE message_contacts (
    tenant_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    contact TEXT NOT NULL,
    assistant_id TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, channel, contact)
  );
  `,
  // 6 (issue 13): test mode, as SQLite migration 6 (a test tenant is the test twin of its live tenant).
  `
  ALTER TABLE tenants ADD COLUMN environment TEXT NOT NULL DEFAULT 'production';
  ALTER TABLE tenants ADD COLUMN live_id TEXT;
  CREATE UNIQUE INDEX tenants_live ON tenants(live_id);
  `,
  // 7 (issue 18): voicemail detection on the call record, as SQLite migration 7
  `
  ALTER TABLE calls ADD COLUMN answered_by TEXT;
  ALTER TABLE calls ADD COLUMN amd_ms INTEGER;
  `,
  // 8 (issue 18): campaigns (a list of numbers dialled within calling windows, with retries), their rows, and the
  // tenant's do-not-call list
  `
  CREATE TABLE campaigns (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    assistant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    settings TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX campaigns_tenant ON campaigns(tenant_id, created_at);
  CREATE INDEX campaigns_status ON campaigns(status);
  CREATE TABLE campaign_rows (
    id TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    phone TEXT NOT NULL,
    timezone TEXT,
    metadata TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    result TEXT,
    call_id TEXT,
    answered_by TEXT,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX campaign_rows_due ON campaign_rows(campaign_id, status, next_attempt_at);
  CREATE INDEX campaign_rows_seq ON campaign_rows(campaign_id, seq);
  CREATE TABLE dnc (
    tenant_id TEXT NOT NULL,
    number TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, number)
  );
  `,
];
