import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, withDatabase } from './context';
import { repoRoot } from './infra';
import { internalAuthEnv } from './internal-keys';
import { freePort } from './ports';
import { spawnService } from './spawn';
import { waitFor } from './wait';

/** A running vault, from {@link startVault}. */
export interface StartedVault {
  /** Its base URL (`VAULT_URL` of the services under test). */
  url: string;
  /** SIGTERM, wait for the exit, drop its database. */
  stop(): Promise<void>;
}

/**
 * The real vault, built (`apps/vault/dist`), as its own process on a free port with its own
 * database, the test's Redis prefix (its change feed) and the test key set (callers mint
 * tokens with `mintServiceToken`). The package's test task must build vault first (turbo.json).
 */
export async function startVault(ctx: TestContext): Promise<StartedVault> {
  const dist = join(repoRoot(), 'apps', 'vault', 'dist', 'server.js');
  if (!existsSync(dist))
    throw new Error(`${dist} is missing: build vault first (pnpm --filter @wapi/vault build)`);
  const port = await freePort();
  const dbName = `${ctx.dbName}_v`;
  const vault = spawnService(dist, {
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    REDIS_URL: ctx.infra.redisUrl,
    KEY_PREFIX: ctx.prefix,
    MONGO_URL: withDatabase(ctx.infra.mongoUrl, dbName),
    MONGO_DB: dbName,
    TOKEN_MASTER_KEY: randomBytes(32).toString('hex'),
    ...internalAuthEnv('vault'),
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/health/ready`).catch(() => undefined))?.ok === true, {
    timeoutMs: 20_000,
    what: `vault ready (output: ${vault.output().slice(-500)})`,
  });
  return {
    url,
    async stop() {
      if (vault.child.exitCode === null) {
        vault.child.kill('SIGTERM');
        await vault.exited;
      }
      await ctx.mongo
        .db(dbName)
        .dropDatabase()
        .catch(() => undefined);
    },
  };
}
