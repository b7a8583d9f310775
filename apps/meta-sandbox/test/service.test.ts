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
  // The Graph emulation and the /_sandbox control API answer in Meta's shapes (and the
  // page in HTML); their own tests check those against contracts. Only the kit's routes
  // (health, readiness, metrics) must declare response schemas here.
  routesWithoutResponseSchema: /^\/(?!health|metrics)/,
  distEntry: fileURLToPath(new URL('../dist/server.js', import.meta.url)),
});
