import {
  createInternalAuth,
  createService,
  parseInternalKeys,
  redisCheck,
  type ServiceApp,
} from '@wapi/service-kit';
import { mongoCheck } from '@wapi/store';
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
  registerAuditLogRoutes(app, {
    compliance: complianceClient({
      baseUrl: config.COMPLIANCE_URL,
      timeoutMs: config.COMPLIANCE_TIMEOUT_MS,
      auth: app.internalAuth!,
    }),
  });
  return app;
}
