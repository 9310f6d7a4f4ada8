import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Secrets at rest (SECURITY.md "Secrets at rest"): what the engine must read back (assistant API keys, which their
 * owner sees in the API; plugin credentials, which the engine sends to carriers) is sealed with AES-256-GCM; what it
 * only has to recognise is hashed (sha256Hex; portal keys are hashed the same way in api_keys).
 *
 * The key comes from SECRETS_KEY (any string of at least 32 random bytes, e.g. `openssl rand -base64 32`, turned
 * into the AES key by HKDF-SHA256), else from DATA_DIR/secrets.key, generated on first start with mode 0600.
 * Rotation: put the old value in SECRETS_KEY_PREVIOUS and the new one in SECRETS_KEY; values sealed with either are
 * read, and every store re-seals what it finds under an older key when it opens (and on every write), after which
 * SECRETS_KEY_PREVIOUS can be dropped. The key file, when present, is always tried too, so moving from the file to
 * SECRETS_KEY needs no extra step.
 *
 * Sealed form: `enc:v1:<key id>:<base64url(iv 12 bytes | ciphertext | GCM tag 16 bytes)>`, the key id being the
 * first 8 hex digits of SHA-256 over the AES key (names the key, reveals nothing usable).
 */
export interface SecretBox {
  seal(plain: string): string;
  /** The plain text; a value not in sealed form is returned as is (rows written before sealing existed). */
  open(stored: string): string;
  /** Whether a stored value is sealed under the current key (else it should be re-sealed). */
  isCurrent(stored: string): boolean;
}

export interface SecretKeys {
  /** SECRETS_KEY */
  key?: string;
  /** SECRETS_KEY_PREVIOUS */
  previous?: string;
  /** The generated key file (DATA_DIR/secrets.key); undefined for a throwaway in-memory store. */
  keyFile?: string;
}

const PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

function deriveKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), 'voice-engine', 'secrets at rest v1', 32));
}

/** Reads the key file, creating it (0600, exclusive) when missing; tightens its mode if someone widened it. */
function fileKey(file: string): string {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    try {
      writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      // Another engine process on the same DATA_DIR created it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  chmodSync(file, 0o600);
  return readFileSync(file, 'utf8').trim();
}

export function createSecretBox(keys: SecretKeys): SecretBox {
  const secrets: string[] = [];
  if (keys.key) secrets.push(keys.key);
  if (keys.previous) secrets.push(keys.previous);
  if (keys.keyFile && (secrets.length === 0 || existsSync(keys.keyFile))) secrets.push(fileKey(keys.keyFile));
  // No key at all (a ':memory:' store in tests): a random key that lives as long as the process.
  if (secrets.length === 0) secrets.push(randomBytes(32).toString('base64'));
  const ring = secrets.map((s) => {
    const key = deriveKey(s);
    return { id: createHash('sha256').update(key).digest('hex').slice(0, 8), key };
  });
  const current = ring[0]!;
  return {
    seal(plain) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current.key, iv);
      const body = Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${PREFIX}${current.id}:${body.toString('base64url')}`;
    },
    open(stored) {
      if (!stored.startsWith(PREFIX)) return stored;
      const colon = stored.indexOf(':', PREFIX.length);
      const id = stored.slice(PREFIX.length, colon);
      const k = ring.find((r) => r.id === id);
      if (!k) {
        throw new Error(
          `a stored secret is sealed with key ${id}, which is neither SECRETS_KEY, SECRETS_KEY_PREVIOUS nor the key file: set the key it was written with`,
        );
      }
      const body = Buffer.from(stored.slice(colon + 1), 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', k.key, body.subarray(0, IV_BYTES));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    },
    isCurrent(stored) {
      return stored.startsWith(`${PREFIX}${current.id}:`);
    },
  };
}

/** An assistant row's key columns: `api_key` holds the SHA-256 of the key (lookup), `api_key_enc` the sealed key. */
export interface AssistantKeyRow {
  id: string;
  api_key: string;
  api_key_enc: string | null;
}

export function assistantKeyColumns(box: SecretBox, key: string): { hash: string; sealed: string } {
  return { hash: sha256Hex(key), sealed: box.seal(key) };
}

/**
 * What brings stored assistant keys to (hash, sealed under the current key): rows from before sealing hold the
 * plain key in api_key; rows sealed under a previous key are re-sealed. Every store runs this when it opens.
 */
export function assistantKeyUpdates(
  box: SecretBox,
  rows: readonly AssistantKeyRow[],
): Array<{ id: string; hash: string; sealed: string }> {
  const out: Array<{ id: string; hash: string; sealed: string }> = [];
  for (const r of rows) {
    if (r.api_key_enc === null) out.push({ id: r.id, ...assistantKeyColumns(box, r.api_key) });
    else if (!box.isCurrent(r.api_key_enc))
      out.push({ id: r.id, hash: r.api_key, sealed: box.seal(box.open(r.api_key_enc)) });
  }
  return out;
}

/** Plugin configs (which hold carrier credentials) not yet sealed under the current key, re-sealed. */
export function pluginConfigUpdates(
  box: SecretBox,
  rows: ReadonlyArray<{ tenant_id: string; plugin_id: string; config: string }>,
): Array<{ tenantId: string; pluginId: string; config: string }> {
  return rows
    .filter((r) => !box.isCurrent(r.config))
    .map((r) => ({ tenantId: r.tenant_id, pluginId: r.plugin_id, config: box.seal(box.open(r.config)) }));
}

/** Rows whose `secret` column is not sealed under the current key, with the value re-sealed. */
export function sealedSecretUpdates(
  box: SecretBox,
  rows: ReadonlyArray<{ id: string; secret: string }>,
): Array<{ id: string; secret: string }> {
  return rows.filter((r) => !box.isCurrent(r.secret)).map((r) => ({ id: r.id, secret: box.seal(box.open(r.secret)) }));
}
