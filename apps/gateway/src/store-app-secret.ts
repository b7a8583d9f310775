import { Type } from '@sinclair/typebox';
import { appSecretRecordIds, PLATFORM_WORKSPACE_ID } from '@wapi/contracts';
import {
  ConfigError,
  createInternalAuth,
  InternalAuthConfig,
  loadConfig,
  parseInternalKeys,
  resolveFileVariables,
} from '@wapi/service-kit';
import { createVaultClient } from '@wapi/vault-client';
import { SERVICE } from './config';

/**
 * `node dist/store-app-secret.js [--next]`: stores the Meta app's secret in vault as the
 * platform's `meta.app_secret` for `META_APP_ID` — record `<appId>`, or `<appId>.next` with
 * `--next` to stage a rotation (webhook-ingest accepts both until the old one is replaced).
 * The secret is read from standard input, never from an argument or a variable, which `ps`
 * and `docker inspect` would show. It runs with gateway's own configuration (`VAULT_URL`,
 * its internal-auth key): gateway is the service vault lets write this purpose. webhook-ingest
 * picks the new value up from vault's change feed at once (or within APP_SECRET_REFRESH_MS).
 *
 *   printf %s "$APP_SECRET" | docker compose run --rm -T gateway node dist/store-app-secret.js
 */
const Config = {
  VAULT_URL: Type.String({ pattern: '^https?://', description: "vault's base URL" }),
  META_APP_ID: Type.String({ pattern: '^[0-9]{1,32}$', description: 'the Meta app id' }),
  INTERNAL_AUTH_PRIVATE_KEY: InternalAuthConfig.INTERNAL_AUTH_PRIVATE_KEY,
  KEY_PREFIX: Type.String({ default: 'wapi' }),
};

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

async function main(): Promise<void> {
  const next = process.argv.includes('--next');
  const resolved = resolveFileVariables(process.env, new Set(Object.keys(Config)));
  if (resolved.problems.length > 0) throw new ConfigError(SERVICE, resolved.problems);
  const config = loadConfig(SERVICE, Config, resolved.env);
  const auth = createInternalAuth({ service: SERVICE, keys: parseInternalKeys(SERVICE, config) });
  const secret = process.stdin.isTTY ? '' : await readStdin();
  // Meta's are 32 hex characters; the sandbox's may be any printable word.
  if (!/^[\x21-\x7e]{8,256}$/.test(secret)) {
    throw new Error(
      'store-app-secret: pipe the app secret (from the Meta app dashboard: App settings > Basic) on standard input, e.g. printf %s "$APP_SECRET" | node dist/store-app-secret.js',
    );
  }
  const [current, staged] = appSecretRecordIds(config.META_APP_ID);
  const record = next ? staged : current;
  const vault = createVaultClient({
    baseUrl: config.VAULT_URL,
    auth,
    prefix: config.KEY_PREFIX,
    cacheTtlMs: 0,
  });
  try {
    const stored = await vault.put(PLATFORM_WORKSPACE_ID, 'meta.app_secret', record, secret);
    // Metadata only: never the value.
    process.stdout.write(`stored meta.app_secret ${record} (revision ${stored.revision})\n`);
  } finally {
    await vault.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
