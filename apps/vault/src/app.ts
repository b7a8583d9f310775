import type { KMSClient } from '@aws-sdk/client-kms';
import {
  ConfigError,
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
import { queueAuditor } from './audit';
import { type Config, SERVICE } from './config';
import { awsNameKey, awsSecretsRepository, createSecretsManagerClient } from './data/aws-secrets.repository';
import { kekUsage } from './data/kek-usage.repository';
import { createKmsClient, kmsKeksOf } from './data/kms-kek';
import { sealedCache } from './data/sealed-cache';
import { type SecretsRepository, secretsRepository } from './data/secrets.repository';
import { createKeyRing, type KeyRing, KeyRingError } from './domain/key-ring';
import { createSecrets } from './domain/secrets';
import { registerSecretsRoutes } from './routes/secrets';

export interface AppDeps {
  config: Config;
  /** A `request`-role connection (fails fast while Redis is down). */
  redis: Redis;
  db: Db;
  /** The service's logger (runService passes its one logger; tests may pass one writing to a stream). */
  log?: Logger;
  /** Clock for audit timestamps and record times (tests inject one). */
  now?: () => Date;
}

/** Where and as whom vault reaches AWS (Secrets Manager and KMS). */
function awsOf(config: Config) {
  return {
    region: config.VAULT_AWS_REGION,
    endpoint: config.VAULT_AWS_ENDPOINT,
    accessKeyId: config.VAULT_AWS_ACCESS_KEY_ID,
    secretAccessKey: config.VAULT_AWS_SECRET_ACCESS_KEY,
  };
}

/** The key ring from config; a bad combination stops start-up (exit 78) naming the variable. */
export function keyRingOf(config: Config): KeyRing {
  try {
    let kms: KMSClient | undefined;
    return createKeyRing({
      masterKey: config.TOKEN_MASTER_KEY,
      extra: config.VAULT_KEYS,
      minVersion: config.VAULT_MIN_KEY_VERSION,
      kms: kmsKeksOf(config.VAULT_KMS_KEYS, () => {
        kms ??= createKmsClient(awsOf(config));
        return kms;
      }),
    });
  } catch (error) {
    if (error instanceof KeyRingError) throw new ConfigError(SERVICE, [error.message]);
    throw error;
  }
}

/** The configured backend: vault's own database (`local`) or AWS Secrets Manager (`aws`). */
export function secretStoreOf(config: Config, db: Db): SecretsRepository {
  if (config.VAULT_BACKEND === 'local') return secretsRepository(db);
  return awsSecretsRepository({
    client: createSecretsManagerClient(awsOf(config)),
    prefix: config.VAULT_AWS_SECRET_PREFIX,
    nameKey: awsNameKey(config.TOKEN_MASTER_KEY),
  });
}

/** Builds vault: no I/O at import, every dependency passed in. */
export async function buildApp(deps: AppDeps): Promise<ServiceApp> {
  const { config } = deps;
  const ring = keyRingOf(config);
  const app = createService({
    service: SERVICE,
    version: pkg.version,
    logLevel: config.LOG_LEVEL,
    readinessTimeoutMs: config.READINESS_TIMEOUT_MS,
    checks: [redisCheck(deps.redis), mongoCheck(deps.db)],
    // Parsed here, so a malformed key stops start-up naming its variable.
    internalAuth: createInternalAuth({ service: SERVICE, keys: parseInternalKeys(SERVICE, config) }),
    ...(deps.log ? { log: deps.log } : {}),
  });
  const audit = queueAuditor({ connection: deps.redis, prefix: config.KEY_PREFIX, log: app.log as Logger });
  app.addHook('onClose', () => audit.close());
  const secrets = createSecrets({
    ring,
    store: secretStoreOf(config, deps.db),
    cache: sealedCache(deps.redis, config.KEY_PREFIX),
    usage: kekUsage(deps.db, { limit: config.VAULT_KEY_MAX_ENCRYPTIONS }),
    audit,
    ...(deps.now ? { now: deps.now } : {}),
  });
  registerSecretsRoutes(app, secrets);
  return app;
}
