import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { internalRoutes } from '@wapi/service-kit';
import { describeServiceConformance, useTestContext } from '@wapi/testkit';
import { buildApp } from '../src/app';
import { configSchema, loadServiceConfig, SERVICE } from '../src/config';

const ctx = useTestContext(SERVICE);

describeServiceConformance({
  service: SERVICE,
  ctx,
  configSchema,
  loadConfig: loadServiceConfig,
  buildApp,
  internalRoutes,
  distEntry: fileURLToPath(new URL('../dist/server.js', import.meta.url)),
  // The one required variable the schema cannot derive: a fresh key-encryption key.
  extraEnv: { TOKEN_MASTER_KEY: randomBytes(32).toString('hex') },
});
