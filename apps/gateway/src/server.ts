import { runService } from '@wapi/service-kit';
import { createMongoClient, migrate, startExpirySweeper } from '@wapi/store';
import { buildApp } from './app';
import { configSchema, SERVICE } from './config';
import { gatewayIndexes } from './data/indexes';

await runService({
  service: SERVICE,
  configSchema,
  async start({ config, log, own, redis }) {
    const mongo = own('mongodb', createMongoClient(config.MONGO_URL, `wapi-${SERVICE}`), (m) => m.close());
    const db = mongo.db(config.MONGO_DB);
    await migrate(db, gatewayIndexes, log);
    // FerretDB has no TTL index: expired refresh tokens and sessions are deleted hourly.
    own(
      'expiry sweeper',
      startExpirySweeper({
        db,
        collections: ['refresh_tokens', 'refresh_families'],
        intervalMs: 3_600_000,
        log,
      }),
      (sweeper) => sweeper.stop(),
    );
    return buildApp({ config, log, redis: redis('request'), workerRedis: redis('worker'), db });
  },
});
