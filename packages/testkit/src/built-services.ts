import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceName } from '@wapi/contracts';
import { type TestContext, withDatabase } from './context';
import { repoRoot } from './infra';
import { freePort } from './ports';
import { serviceEnv } from './service-env';
import { spawnService } from './spawn';
import { waitFor } from './wait';

/** A built service running as its own process, from {@link startVault} or {@link startCompliance}. */
export interface StartedService {
  /** Its base URL (`VAULT_URL`, `COMPLIANCE_URL` of the services under test). */
  url: string;
  /** SIGTERM, wait for the exit, drop its database. */
  stop(): Promise<void>;
}

/**
 * A built app (`apps/<service>/dist`) as its own process on a free port, with its own
 * database, the test's Redis prefix and the test key set (callers mint tokens with
 * `mintServiceToken`). The package's turbo test task must build it first.
 */
async function startBuilt(
  ctx: TestContext,
  service: ServiceName,
  dbSuffix: string,
  env: Record<string, string> = {},
): Promise<StartedService> {
  const dist = join(repoRoot(), 'apps', service, 'dist', 'server.js');
  if (!existsSync(dist))
    throw new Error(`${dist} is missing: build ${service} first (pnpm --filter @wapi/${service} build)`);
  const port = await freePort();
  const dbName = `${ctx.dbName}_${dbSuffix}`;
  const child = spawnService(
    dist,
    serviceEnv(ctx, service, {
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      // Its own database, next to the test file's.
      MONGO_URL: withDatabase(ctx.infra.mongoUrl, dbName),
      MONGO_DB: dbName,
      ...env,
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/health/ready`).catch(() => undefined))?.ok === true, {
    timeoutMs: 20_000,
    what: `${service} ready (output: ${child.output().slice(-500)})`,
  });
  return {
    url,
    async stop() {
      if (child.child.exitCode === null) {
        child.child.kill('SIGTERM');
        await child.exited;
      }
      await ctx.mongo
        .db(dbName)
        .dropDatabase()
        .catch(() => undefined);
    },
  };
}

/** The real vault, built, with a fresh master key. */
export function startVault(ctx: TestContext): Promise<StartedService> {
  return startBuilt(ctx, 'vault', 'v', { TOKEN_MASTER_KEY: randomBytes(32).toString('hex') });
}

/** The real compliance, built (audit log, consent ledger, suppression state). */
export function startCompliance(ctx: TestContext): Promise<StartedService> {
  return startBuilt(ctx, 'compliance', 'c');
}
