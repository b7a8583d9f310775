import { runService } from '@wapi/service-kit';
import { buildApp } from './app';
import { configSchema, SERVICE } from './config';

await runService({
  service: SERVICE,
  configSchema,
  start: ({ config, log, redis }) => buildApp({ config, log, redis: redis('request') }),
});
