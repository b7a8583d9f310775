import { fileURLToPath } from 'node:url';
import { createRedis } from '@wapi/service-kit';
import { describeServiceConformance, useTestContext } from '@wapi/testkit';
import { buildApp } from '../src/app';
import { loadServiceConfig, SERVICE } from '../src/config';

const ctx = useTestContext(SERVICE);
const secret = 'test-internal-secret-0123456789abcdef';

describeServiceConformance({
  service: SERVICE,
  ctx,
  distEntry: fileURLToPath(new URL('../dist/server.js', import.meta.url)),
  required: ['REDIS_URL', 'MONGO_URL', 'INTERNAL_AUTH_SECRET'],
  env: ({ redisUrl, mongoUrl, port }) => ({
    REDIS_URL: redisUrl,
    MONGO_URL: mongoUrl,
    INTERNAL_AUTH_SECRET: secret,
    PORT: String(port),
    LOG_LEVEL: 'info',
  }),
  async build({ redisUrl, db }) {
    const config = loadServiceConfig({
      REDIS_URL: redisUrl,
      MONGO_URL: ctx.mongoUrl,
      INTERNAL_AUTH_SECRET: secret,
      PORT: '0',
      LOG_LEVEL: 'silent',
    });
    const redis = createRedis(redisUrl, 'request', { warn: () => undefined });
    const app = await buildApp({ config, redis, db });
    return {
      app,
      async close() {
        await app.close();
        redis.disconnect();
      },
    };
  },
});
