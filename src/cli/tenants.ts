import { loadConfig } from '../config.js';
import { connectStore } from '../store/index.js';
import { CliError, flagString, parseArgs } from './args.js';

const USAGE =
  'tenants add <email> [--label L] | tenants list | tenants key <email> [--label L] | tenants revoke <email> <keyId>';

/**
 * Tenant management on the local store (DATA_DIR/engine.db), for operators with shell access. A new key is printed
 * once on stdout and never again (only its hash is stored).
 */
export async function run(
  argv: string[],
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<number> {
  const args = parseArgs(argv);
  const [sub, email, keyId] = args.positional;
  const label = flagString(args, 'label');
  if (!sub) throw new CliError(`usage: ${USAGE}`, 2);
  const cfg = loadConfig();
  const store = await connectStore({
    dataDir: cfg.dataDir,
    databaseUrl: cfg.databaseUrl,
    secretsKey: cfg.secretsKey,
    secretsKeyPrevious: cfg.secretsKeyPrevious,
  });
  try {
    if (sub === 'list') {
      for (const t of await store.tenants.list()) {
        const keys = (await store.apiKeys.list(t.id)).filter((k) => !k.revokedAt);
        out(
          JSON.stringify({
            id: t.id,
            email: t.email,
            creditCents: t.creditCents,
            keys: keys.map((k) => ({ id: k.id, label: k.label, prefix: k.prefix })),
          }),
        );
      }
      return 0;
    }
    if (!email) throw new CliError(`usage: ${USAGE}`, 2);
    if (sub === 'add') {
      if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new CliError(`'${email}' is not an email address`, 2);
      if (await store.tenants.getByEmail(email))
        throw new CliError(`a tenant with email ${email} exists (use: tenants key ${email})`);
      const t = await store.tenants.create({ email });
      const { secret, key } = await store.apiKeys.create(t.id, { label: label ?? 'production' });
      out(JSON.stringify({ tenantId: t.id, email: t.email, keyId: key.id, portalApiKey: secret }));
      process.stderr.write('The portalApiKey is shown once; store it now.\n');
      return 0;
    }
    const t = await store.tenants.getByEmail(email);
    if (!t) throw new CliError(`no tenant with email ${email}`);
    if (sub === 'key') {
      const { secret, key } = await store.apiKeys.create(t.id, { label: label ?? 'production' });
      out(JSON.stringify({ tenantId: t.id, email: t.email, keyId: key.id, label: key.label, portalApiKey: secret }));
      return 0;
    }
    if (sub === 'revoke') {
      if (!keyId) throw new CliError(`usage: ${USAGE}`, 2);
      if (!(await store.apiKeys.revoke(t.id, keyId))) throw new CliError(`no live key ${keyId} for ${email}`);
      out(JSON.stringify({ revoked: keyId }));
      return 0;
    }
    throw new CliError(`unknown subcommand '${sub}'; usage: ${USAGE}`, 2);
  } finally {
    await store.close();
  }
}
