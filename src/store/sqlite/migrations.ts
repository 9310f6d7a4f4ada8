/**
 * Versioned schema migrations, applied in order inside one transaction each; the version lives in
 * `PRAGMA user_version`. Never edit a shipped migration: append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: initial control-plane schema
  `
  CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT,
    credit_cents INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
  );
  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    prefix TEXT NOT NULL,
    hash BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    last_used_at TEXT
  );
  CREATE INDEX api_keys_tenant ON api_keys(tenant_id);
  CREATE TABLE assistants (
    id TEXT PRIMARY KEY,
    api_key TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    config TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX assistants_tenant ON assistants(tenant_id);
  CREATE TABLE calls (
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
    created_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    end_reason TEXT,
    duration_ms INTEGER,
    recording_path TEXT,
    summary TEXT,
    structured_output TEXT,
    structured_output_error TEXT
  );
  CREATE INDEX calls_tenant_created ON calls(tenant_id, created_at);
  CREATE INDEX calls_tenant_status ON calls(tenant_id, status);
  CREATE TABLE call_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL,
    type TEXT NOT NULL,
    at TEXT NOT NULL,
    data TEXT NOT NULL
  );
  CREATE INDEX call_events_call ON call_events(call_id, seq);
  CREATE TABLE number_routes (
    number TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    assistant_id TEXT NOT NULL,
    created_at TEXT NOT NULL
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
    activated_at TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, plugin_id)
  );
  CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    description TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints(tenant_id);
  CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    last_error TEXT
  );
  CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
  CREATE TABLE webhook_attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at TEXT NOT NULL,
    ok INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL
  );
  CREATE INDEX webhook_attempts_endpoint ON webhook_attempts(tenant_id, endpoint_id, seq);
  CREATE TABLE analytics_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    data TEXT NOT NULL
  );
  CREATE INDEX analytics_events_kind ON analytics_events(tenant_id, kind, at);
  CREATE TABLE outbound_queue (
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
    next_attempt_at INTEGER NOT NULL,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX outbound_queue_due ON outbound_queue(status, next_attempt_at);
  `,
  // 2: idempotency keys for outbound call requests (a CRM retrying a timed-out request must not dial twice)
  `
  CREATE TABLE idempotency_keys (
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    call_id TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
  );
  `,
  // 3: engines sharing the store: call ownership with a heartbeat (dead engines' calls are closed by the others),
  // shared rate-limit counters
  `
  ALTER TABLE calls ADD COLUMN owner_id TEXT;
  CREATE INDEX calls_owner ON calls(owner_id, status);
  CREATE TABLE engines (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
  );
  CREATE TABLE rate_counters (
    key TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
  );
  `,
  // 4 (issue 11): assistant keys at rest: api_key becomes the SHA-256 of the key (filled in by the store on open,
  // src/store/secrets.ts assistantKeyUpdates), api_key_enc the key sealed with the secrets key.
  `
  ALTER TABLE assistants ADD COLUMN api_key_enc TEXT;
  `,
  // 5 (issue 13): messaging conversations: every WhatsApp / SMS message per contact (the agent's history), unique on
  // the provider's message id per tenant (a webhook retried by Meta is recorded once and answered once), and which
  // assistant answers each contact.
  `
  CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    contact TEXT NOT NULL,
    direction TEXT NOT NULL,
    assistant_id TEXT,
    body TEXT NOT NULL,
    provider_message_id TEXT,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL
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
  // 6 (issue 13): test mode. A tenant row is one environment of an account: a test tenant is the test twin of its
  // live tenant (live_id), created with the first test key; its data is isolated by tenant id like any tenant's.
  `
  ALTER TABLE tenants ADD COLUMN environment TEXT NOT NULL DEFAULT 'production';
  ALTER TABLE tenants ADD COLUMN live_id TEXT;
  CREATE UNIQUE INDEX tenants_live ON tenants(live_id);
  `,
  // 7 (issue 18): voicemail detection on the call record
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
