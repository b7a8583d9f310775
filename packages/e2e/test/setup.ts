import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type TestContext } from '@wapi/testkit';
import { type MetaApp, type Platform, START_ORDER, startPlatform } from '../src/platform.mjs';

/** Where each process's output goes (kept after a run; `./wapi test` clears it). */
export const LOG_DIR = join(import.meta.dirname, '..', '.test-results', 'logs');

/** The last lines of every process's log, for a failure message. */
export function logTails(lines = 15): string {
  const out: string[] = [];
  for (const name of START_ORDER) {
    for (const index of [0, 1]) {
      try {
        const text = readFileSync(join(LOG_DIR, `${name}-${index}.log`), 'utf8')
          .trim()
          .split('\n');
        out.push(`--- ${name} #${index + 1}`, ...text.slice(-lines));
      } catch {
        // no such instance
      }
    }
  }
  return out.join('\n');
}

/**
 * The platform as the suite runs it: every service a separate process from its built dist/,
 * two instances of webhook-ingest (behind a round-robin balancer) and of message-sender, a
 * private key prefix and databases (the test context's name), fresh keys in a temporary dir.
 */
export async function startSuitePlatform(
  ctx: TestContext,
): Promise<{ platform: Platform; metaApp: MetaApp; crashes: string[] }> {
  rmSync(LOG_DIR, { recursive: true, force: true });
  mkdirSync(LOG_DIR, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'wapi-e2e-'));
  const metaApp: MetaApp = {
    appId: '900000000000001',
    appSecret: randomBytes(24).toString('hex'),
    verifyToken: randomBytes(12).toString('hex'),
  };
  const crashes: string[] = [];
  const platform = await startPlatform({
    infra: { redisUrl: ctx.infra.redisUrl, mongoUrl: ctx.infra.mongoUrl },
    namespace: ctx.prefix,
    keysDir: join(dir, 'keys'),
    vaultMasterKeyFile: join(dir, 'vault-master-key'),
    gatewayTokenKeyFile: join(dir, 'gateway-token-key'),
    metaApp,
    instances: { 'webhook-ingest': 2, 'message-sender': 2 },
    port: () => freePort(),
    log: (name, index) => createWriteStream(join(LOG_DIR, `${name}-${index}.log`)),
    logLevel: process.env.E2E_LOG_LEVEL ?? 'warn',
    env: {
      // Status webhooks a few hundred ms apart instead of seconds: the same sequence, sooner.
      'meta-sandbox': {
        SANDBOX_STATUS_SENT_MS: '100',
        SANDBOX_STATUS_DELIVERED_MS: '200',
        SANDBOX_STATUS_READ_MS: '300',
        SANDBOX_WEBHOOK_RETRY_BASE_MS: '500',
        SANDBOX_TEMPLATE_REVIEW_MS: '300',
      },
      // The mixed run sends thousands a minute from one workspace: lift the plan's limits.
      gateway: { SEND_RATE_FREE: '1000000', API_RATE_FREE: '1000000' },
      'webhook-ingest': {
        REDRIVE_INTERVAL_MS: '2000',
        REDRIVE_GRACE_MS: '3000',
        APP_SECRET_REFRESH_MS: '1000',
      },
    },
    // A service that dies mid-run fails the run (checked at its end) even if the others covered for it.
    onUnexpectedExit: (svc, code, signal) =>
      crashes.push(`${svc.name} #${svc.index + 1} (${signal ?? code})`),
  });
  return { platform, metaApp, crashes };
}

/** Drops the databases the platform made (`<prefix>_<service>`); Redis keys go with the context. */
export async function dropPlatformDatabases(ctx: TestContext): Promise<void> {
  for (const name of START_ORDER) {
    if (name === 'meta-sandbox') continue;
    await ctx.mongo
      .db(`${ctx.prefix}_${name.replaceAll('-', '_')}`)
      .dropDatabase()
      .catch(() => undefined);
  }
}
