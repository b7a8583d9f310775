import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
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
  extraEnv: { SANDBOX_ADMIN_TOKEN: randomBytes(24).toString('hex') },
  distEntry: fileURLToPath(new URL('../dist/server.js', import.meta.url)),
});
