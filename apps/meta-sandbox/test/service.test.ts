import { fileURLToPath } from 'node:url';
import { createRedis } from '@wapi/service-kit';
import { describeServiceConformance, useTestContext } from '@wapi/testkit';
import { buildApp } from '../src/app';
import { loadServiceConfig, SERVICE } from '../src/config';

const ctx = useTestContext(SERVICE);

describeServiceConformance({
  service: SERVICE,
  ctx,
  distEntry: fileURLToPath(new URL('../dist/server.js', import.meta.url)),
  required: ['REDIS_URL'],
  env: ({ redisUrl, port }) => ({
    REDIS_URL: redisUrl,
    PORT: String(port),
    LOG_LEVEL: 'info',
  }),
  async build({ redisUrl }) {
    const config = loadServiceConfig({ REDIS_URL: redisUrl, PORT: '0', LOG_LEVEL: 'silent' });
    const redis = createRedis(redisUrl, 'request', { warn: () => undefined });
    const app = await buildApp({ config, redis });
    return {
      app,
      async close() {
        await app.close();
        redis.disconnect();
      },
    };
  },
});
