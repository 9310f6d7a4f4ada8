import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { createSecretBox, sha256Hex } from '../../src/store/secrets.js';

/**
 * Secrets at rest (issue 11, finding 6): assistant keys are stored as a SHA-256 (lookup) plus AES-256-GCM sealed
 * (shown to their owner), plugin credentials and webhook signing secrets sealed; none appears in the SQLite file.
 * Keys rotate.
 */
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'secrets-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Every byte SQLite wrote: the database file and, if any is left, its WAL. */
function dbBytes(): Buffer {
  const files = ['engine.db', 'engine.db-wal'].map((f) => path.join(dir, f)).filter((f) => existsSync(f));
  return Buffer.concat(files.map((f) => readFileSync(f)));
}

const TWILIO_TOKEN = 'twilio-auth-token-plaintext-4242';
const WHSEC = 'whsec_plaintext_signing_secret_4242';

describe('secrets at rest (SQLite)', () => {
  it('neither the assistant key nor plugin credentials are in the database file; both read back', async () => {
    let store = openStore({ dataDir: dir });
    const t = await store.tenants.create({ email: 'a@example.com' });
    const a = await store.assistants.create(t.id, {});
    await store.account.purchasePlugin(t.id, 'twilio', 0);
    await store.account.configurePlugin(t.id, 'twilio', { accountSid: 'AC1', authToken: TWILIO_TOKEN });
    const ep = await store.webhooks.createEndpoint(t.id, {
      url: 'https://hooks.example.com/x',
      events: ['call.ended'],
      secret: WHSEC,
    });
    expect(ep.secret).toBe(WHSEC);
    await store.close();

    const bytes = dbBytes();
    expect(bytes.includes(a.assistantApiKey)).toBe(false);
    expect(bytes.includes(TWILIO_TOKEN)).toBe(false);
    expect(bytes.includes(WHSEC)).toBe(false);
    expect(bytes.includes(sha256Hex(a.assistantApiKey))).toBe(true); // the lookup hash
    expect(statSync(path.join(dir, 'secrets.key')).mode & 0o777).toBe(0o600);

    store = openStore({ dataDir: dir });
    expect((await store.assistants.findByKey(a.assistantApiKey))?.id).toBe(a.id);
    expect((await store.assistants.get(t.id, a.id))?.assistantApiKey).toBe(a.assistantApiKey);
    expect((await store.account.getPlugin(t.id, 'twilio'))?.config.authToken).toBe(TWILIO_TOKEN);
    expect((await store.webhooks.getEndpoint(t.id, ep.id))?.secret).toBe(WHSEC);
    await store.close();
  });

  it('rows written before sealing (plain key, plain config) are hashed and sealed when the store opens', async () => {
    let store = openStore({ dataDir: dir });
    const t = await store.tenants.create({ email: 'a@example.com' });
    const a = await store.assistants.create(t.id, {});
    await store.account.purchasePlugin(t.id, 'twilio', 0);
    const ep = await store.webhooks.createEndpoint(t.id, {
      url: 'https://hooks.example.com/x',
      events: ['call.ended'],
    });
    await store.close();
    // What an engine from before this change left behind.
    const db = new Database(path.join(dir, 'engine.db'));
    db.prepare('UPDATE assistants SET api_key = ?, api_key_enc = NULL').run(a.assistantApiKey);
    db.prepare('UPDATE plugin_instances SET config = ?').run(JSON.stringify({ authToken: TWILIO_TOKEN }));
    db.prepare('UPDATE webhook_endpoints SET secret = ?').run(WHSEC);
    db.close();
    expect(dbBytes().includes(TWILIO_TOKEN)).toBe(true);

    store = openStore({ dataDir: dir });
    expect((await store.assistants.findByKey(a.assistantApiKey))?.assistantApiKey).toBe(a.assistantApiKey);
    expect((await store.account.getPlugin(t.id, 'twilio'))?.config.authToken).toBe(TWILIO_TOKEN);
    expect((await store.webhooks.getEndpoint(t.id, ep.id))?.secret).toBe(WHSEC);
    await store.close();
    const raw = new Database(path.join(dir, 'engine.db'), { readonly: true });
    expect(raw.prepare('SELECT api_key FROM assistants').pluck().get()).toBe(sha256Hex(a.assistantApiKey));
    expect(String(raw.prepare('SELECT config FROM plugin_instances').pluck().get())).toMatch(/^enc:v1:/);
    expect(String(raw.prepare('SELECT secret FROM webhook_endpoints').pluck().get())).toMatch(/^enc:v1:/);
    raw.close();
  });

  it('rotation: SECRETS_KEY_PREVIOUS reads the old values, which are re-sealed under the new key', async () => {
    let store = openStore({ dataDir: dir, secrets: { key: 'first-key-0123456789abcdef0123456789' } });
    const t = await store.tenants.create({ email: 'a@example.com' });
    const a = await store.assistants.create(t.id, {});
    await store.close();
    const second = 'second-key-0123456789abcdef012345678';
    expect(() => openStore({ dataDir: dir, secrets: { key: second } })).toThrow(/SECRETS_KEY_PREVIOUS/);
    store = openStore({ dataDir: dir, secrets: { key: second, previous: 'first-key-0123456789abcdef0123456789' } });
    expect((await store.assistants.get(t.id, a.id))?.assistantApiKey).toBe(a.assistantApiKey);
    await store.close();
    // Everything was re-sealed on open: the previous key is no longer needed.
    store = openStore({ dataDir: dir, secrets: { key: second } });
    expect((await store.assistants.get(t.id, a.id))?.assistantApiKey).toBe(a.assistantApiKey);
    await store.close();
  });

  it('the sealed form is authenticated: a tampered value does not open', () => {
    const box = createSecretBox({ key: 'k'.repeat(40) });
    const sealed = box.seal('hello');
    expect(box.open(sealed)).toBe('hello');
    const body = sealed.slice(sealed.lastIndexOf(':') + 1);
    const flipped = body.slice(0, -2) + (body.endsWith('A') ? 'BB' : 'AA');
    expect(() => box.open(sealed.slice(0, sealed.lastIndexOf(':') + 1) + flipped)).toThrow();
  });
});
