import {
  createInternalAuth,
  createProducer,
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
import { registerContactRoutes } from './messaging/contact-routes';
import { registerContactImport } from './messaging/csv-import';
import { phoneDirectory } from './messaging/directory';
import { registerLiveEvents } from './messaging/live-events';
import { registerMessageRoutes } from './messaging/message-routes';
import { registerPhoneNumberRoutes } from './messaging/phone-number-routes';
import { messagingRepositories } from './messaging/repositories';
import { registerMessagingWorkers } from './messaging/workers';
import { registerApiSurface } from './plugins/api-surface';
import { registerAuth } from './plugins/auth';
import { limitsFor, registerRateLimits } from './plugins/rate-limits';
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
  await registerAuth(app, { config, cache, repos: tenancy, apiKeys });
  await registerRateLimits(app, { config, redis: deps.redis });
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
  // Created on the first send, so building the app opens no queue.
  let sends: ReturnType<typeof createProducer<'message.send.v1'>> | undefined;
  app.addHook('onClose', async () => {
    await sends?.close();
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
  registerContactRoutes(app, { repos: messaging, compliance, now });
  registerContactImport(app, { repos: messaging, now });
  registerMessageRoutes(app, {
    repos: messaging,
    redis: deps.redis,
    prefix: config.KEY_PREFIX,
    compliance,
    sendQueue: () => {
      sends ??= createProducer('message.send.v1', {
        connection: deps.redis,
        prefix: config.KEY_PREFIX,
        log: app.log as Logger,
      });
      return sends;
    },
    now,
  });
  registerLiveEvents(app, { redis: deps.redis, prefix: config.KEY_PREFIX });
  if (deps.workerRedis) {
    registerMessagingWorkers(app, {
      repos: messaging,
      connection: deps.workerRedis,
      prefix: config.KEY_PREFIX,
      log: app.log as Logger,
      now,
    });
  }
  return app;
}
