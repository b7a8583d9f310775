import { createMetaClient } from '@wapi/meta-client';
import {
  createInternalAuth,
  createService,
  parseInternalKeys,
  redisCheck,
  type ServiceApp,
} from '@wapi/service-kit';
import { mongoCheck } from '@wapi/store';
import { createVaultClient } from '@wapi/vault-client';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import pkg from '../package.json' with { type: 'json' };
import { registerAudit } from './audit';
import { type Config, SERVICE } from './config';
import { apiKeyRepository } from './data/api-keys.repository';
import { authCache } from './data/auth-cache';
import { complianceClient } from './data/compliance-client';
import { identityRepositories } from './data/identity.repository';
import { loginThrottle } from './data/login-throttle';
import { type WorkspaceDoc, workspaceRepositories } from './data/workspaces.repository';
import { createIdentity } from './domain/identity';
import { phoneDirectory } from './messaging/directory';
import { registerPhoneNumberRoutes } from './messaging/phone-number-routes';
import { registerMessaging } from './messaging/register';
import { messagingRepositories } from './messaging/repositories';
import { applyNumberUpdate } from './numbers/health';
import { startNumberSync } from './numbers/sync';
import { createNumberHealth } from './numbers/wiring';
import { createEmbeddedSignup } from './onboarding/esb';
import { registerOnboardingRoutes } from './onboarding/routes';
import { registerApiSurface } from './plugins/api-surface';
import { registerAuth } from './plugins/auth';
import { createLimitGate, limitsFor, registerRateLimits } from './plugins/rate-limits';
import { registerAuditLogRoutes } from './routes/audit-logs';
import { registerAuthRoutes } from './routes/auth';
import { registerWorkspaceRoutes } from './routes/workspace';

export interface AppDeps {
  config: Config;
  /** A `request`-role connection (fails fast while Redis is down). */
  redis: Redis;
  db: Db;
  /** The service's logger (runService passes its one logger; tests may pass one writing to a stream). */
  log?: Logger;
  /**
   * A `worker`-role connection: when given, the `message.events.v1` and `message.inbound.v1`
   * workers run in this process (server.ts passes one; route tests leave it out).
   */
  workerRedis?: Redis;
  /** Clock for token and record times (tests inject one). */
  now?: () => Date;
}

/** Builds the gateway: no I/O at import, every dependency passed in. */
export async function buildApp(deps: AppDeps): Promise<ServiceApp> {
  const { config } = deps;
  const now = deps.now ?? (() => new Date());
  const app = createService({
    service: SERVICE,
    version: pkg.version,
    logLevel: config.LOG_LEVEL,
    readinessTimeoutMs: config.READINESS_TIMEOUT_MS,
    checks: [redisCheck(deps.redis), mongoCheck(deps.db)],
    // Parsed here, so a malformed key stops start-up naming its variable.
    internalAuth: createInternalAuth({ service: SERVICE, keys: parseInternalKeys(SERVICE, config) }),
    // The public API takes small JSON bodies; media uploads will get their own route limit.
    bodyLimit: 256 * 1024,
    ...(deps.log ? { log: deps.log } : {}),
  });
  const identityRepos = identityRepositories(deps.db);
  const tenancy = workspaceRepositories(deps.db);
  const apiKeys = apiKeyRepository(deps.db);
  const cache = authCache(deps.redis, config.KEY_PREFIX);
  const sendLimitOf = (workspace: Pick<WorkspaceDoc, 'plan' | 'sendsPerMinute'>) =>
    limitsFor(config, workspace).send;

  await registerApiSurface(app, config);
  const gate = createLimitGate();
  await registerAuth(app, { config, cache, repos: tenancy, apiKeys, gate });
  await registerRateLimits(app, { config, redis: deps.redis, gate });
  registerAudit(app, {
    connection: deps.redis,
    prefix: config.KEY_PREFIX,
    timeoutMs: config.READINESS_TIMEOUT_MS,
    log: app.log as Logger,
  });
  const identity = createIdentity({
    identity: identityRepos,
    tenancy,
    cache,
    throttle: loginThrottle(deps.redis, config.KEY_PREFIX),
    sign: (claims) => app.jwt.sign(claims),
    now,
    sendLimitOf,
  });
  registerAuthRoutes(app, { identity, users: identityRepos.users, tenancy });
  registerWorkspaceRoutes(app, {
    tenancy,
    users: identityRepos.users,
    logins: identityRepos.logins,
    apiKeys,
    cache,
    now,
    sendLimitOf,
    gate,
  });
  const compliance = complianceClient({
    baseUrl: config.COMPLIANCE_URL,
    timeoutMs: config.COMPLIANCE_TIMEOUT_MS,
    auth: app.internalAuth!,
  });
  registerAuditLogRoutes(app, { compliance });

  const messaging = messagingRepositories(deps.db);
  const directory = phoneDirectory(deps.redis, config.KEY_PREFIX, messaging);
  // Gateway only writes tokens (message-sender reads them): no read cache, no subscriber.
  const vault = createVaultClient({
    baseUrl: config.VAULT_URL,
    auth: app.internalAuth!,
    prefix: config.KEY_PREFIX,
    cacheTtlMs: 0,
    writeTimeoutMs: config.VAULT_TIMEOUT_MS,
  });
  app.addHook('onClose', async () => {
    await vault.close();
  });
  // Redis is a cache of the directory: refill it before the first request. A failure is
  // logged, not fatal (the internal lookup answers from the database on a miss).
  app.addHook('onReady', async () => {
    await directory.rebuild().catch((error: unknown) => {
      app.log.error({ err: error }, 'phone-number directory not rebuilt; lookups fall back on the database');
    });
  });
  registerPhoneNumberRoutes(app, { repos: messaging, directory, vault, now });
  // Embedded Signup and number health (issue #14 items 1 and 3), with one shared Graph client.
  const meta = createMetaClient({
    baseUrl: config.GRAPH_BASE_URL,
    version: config.GRAPH_VERSION,
    timeoutMs: config.GRAPH_TIMEOUT_MS,
  });
  const numberHealth = createNumberHealth({
    db: deps.db,
    redis: deps.redis,
    prefix: config.KEY_PREFIX,
    directory,
    log: app.log as Logger,
    now,
  });
  registerOnboardingRoutes(app, {
    esb: createEmbeddedSignup({
      appId: config.META_APP_ID,
      configId: config.META_ESB_CONFIG_ID,
      graphVersion: config.GRAPH_VERSION,
      redis: deps.redis,
      prefix: config.KEY_PREFIX,
      tenancy,
      numbers: numberHealth.deps.numbers,
      directory,
      vault,
      meta,
      now,
    }),
  });
  // The periodic number sync runs where background work runs (server.ts; not route tests).
  let numberSync: ReturnType<typeof startNumberSync> | undefined;
  const { workerRedis } = deps;
  if (workerRedis) {
    app.addHook('onReady', async () => {
      numberSync = startNumberSync({
        ...numberHealth.deps,
        meta,
        vault,
        log: app.log as Logger,
        // The worker-role connection waits for Redis: the first round runs at start-up,
        // when a fail-fast connection may not be connected yet.
        redis: workerRedis,
        prefix: config.KEY_PREFIX,
        intervalMs: config.NUMBER_SYNC_INTERVAL_MS,
      });
    });
  }
  app.addHook('onClose', async () => {
    await numberSync?.stop();
    await numberHealth.close();
    meta.close();
  });
  // Contacts, messages, templates, live events, outbox; with workerRedis the workers and the
  // periodic jobs; `onNumberUpdate` hands number-health kinds of account.update.v1 to numbers/health.ts.
  registerMessaging(app, {
    config,
    db: deps.db,
    redis: deps.redis,
    workerRedis: deps.workerRedis,
    repos: messaging,
    members: tenancy.members,
    compliance,
    vault,
    meta,
    onNumberUpdate: (update) => applyNumberUpdate(numberHealth.deps, update),
    now,
  });
  return app;
}
