/**
 * The rewrap job as a process: `node dist/rewrap.js` with vault's environment (the same
 * variables, `TOKEN_MASTER_KEY` and `VAULT_KEYS` holding the new version). Re-wraps every
 * data key under the newest KEK, logs `rewrap progress` after each batch, and exits 0 when
 * none is left under an older version. Safe to kill at any moment and run again: it
 * resumes where the stored state says (see rewrapAll). SIGTERM/SIGINT stop it after the
 * batch in flight.
 */
import { ConfigError, closeRedis, createLogger, createRedis, resolveFileVariables } from '@wapi/service-kit';
import { connectMongo } from '@wapi/store';
import { keyRingOf, secretStoreOf } from './app';
import { queueAuditor } from './audit';
import { type Config, configSchema, loadServiceConfig, SERVICE } from './config';
import { kekUsage } from './data/kek-usage.repository';
import { sealedCache } from './data/sealed-cache';
import { rewrapAll } from './workers/rewrap';

let config: Config;
try {
  const resolved = resolveFileVariables(process.env, new Set(Object.keys(configSchema)));
  if (resolved.problems.length > 0) throw new ConfigError(SERVICE, resolved.problems);
  config = loadServiceConfig(resolved.env);
  keyRingOf(config);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(78);
}

const log = createLogger(`${SERVICE}-rewrap`, config.LOG_LEVEL);
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.on(signal, () => {
    log.info({ signal }, 'stopping after the batch in flight');
    stopping = true;
  });

const mongo = await connectMongo(config.MONGO_URL, `wapi-${SERVICE}-rewrap`);
const redis = createRedis(config.REDIS_URL, 'worker', log, `${SERVICE}-rewrap`);
const audit = queueAuditor({ connection: redis, prefix: config.KEY_PREFIX, log });
let code = 0;
try {
  const db = mongo.db(config.MONGO_DB);
  const result = await rewrapAll({
    ring: keyRingOf(config),
    store: secretStoreOf(config, db),
    cache: sealedCache(redis, config.KEY_PREFIX),
    usage: kekUsage(db, { limit: config.VAULT_KEY_MAX_ENCRYPTIONS }),
    audit,
    batchSize: config.VAULT_REWRAP_BATCH,
    shouldStop: () => stopping,
    onProgress: (progress) => log.info(progress, 'rewrap progress'),
  });
  log.info(result, stopping ? 'rewrap stopped' : 'rewrap finished');
} catch (error) {
  log.error({ err: error }, 'rewrap failed; run it again to resume');
  code = 1;
} finally {
  await audit.close();
  await closeRedis(redis);
  await mongo.close();
}
process.exit(code);
