import { closeRedis, configOrExit, createLogger, createRedis, serve } from '@wapi/service-kit';
import { createMongoClient } from '@wapi/store';
import { buildApp } from './app';
import { loadServiceConfig, SERVICE } from './config';

const config = configOrExit(() => loadServiceConfig(process.env));
const log = createLogger(SERVICE, config.LOG_LEVEL);
const redis = createRedis(config.REDIS_URL, 'request', log, SERVICE);
const mongo = createMongoClient(config.MONGO_URL, `wapi-${SERVICE}`);
const app = await buildApp({ config, redis, db: mongo.db(config.MONGO_DB) });

await serve(app, {
  host: config.HOST,
  port: config.PORT,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  closers: [
    { name: 'redis', close: () => closeRedis(redis) },
    { name: 'mongodb', close: () => mongo.close() },
  ],
});
