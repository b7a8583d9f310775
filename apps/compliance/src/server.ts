import { runService } from '@wapi/service-kit';
import { createMongoClient, migrate } from '@wapi/store';
import { buildApp } from './app';
import { configSchema, SERVICE } from './config';
import { INDEXES } from './data/indexes';

await runService({
  service: SERVICE,
  configSchema,
  async start({ config, log, own, redis }) {
    const mongo = own('mongodb', createMongoClient(config.MONGO_URL, `wapi-${SERVICE}`), (m) => m.close());
    const db = mongo.db(config.MONGO_DB);
    await migrate(db, INDEXES, log);
    return buildApp({ config, log, redis: redis('request'), workerRedis: redis('worker'), db });
  },
});
