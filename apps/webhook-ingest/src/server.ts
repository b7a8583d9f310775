import { runService } from '@wapi/service-kit';
import { createMongoClient } from '@wapi/store';
import { buildApp } from './app';
import { configSchema, SERVICE } from './config';

await runService({
  service: SERVICE,
  configSchema,
  async start({ config, log, own, redis }) {
    const mongo = own('mongodb', createMongoClient(config.MONGO_URL, `wapi-${SERVICE}`), (m) => m.close());
    return buildApp({
      config,
      log,
      redis: redis('request'),
      db: mongo.db(config.MONGO_DB),
      // Built beside this file (tsup entry): with PROCESSOR_THREAD, processing gets its own event loop.
      ...(config.PROCESSOR_THREAD
        ? { processorWorker: new URL('./processor-worker.js', import.meta.url) }
        : {}),
    });
  },
});
