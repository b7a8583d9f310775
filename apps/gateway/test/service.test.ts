import { fileURLToPath } from 'node:url';
import { internalRoutes } from '@wapi/service-kit';
import { describeServiceConformance, useTestContext } from '@wapi/testkit';
import { buildApp } from '../src/app';
import { configSchema, loadServiceConfig, SERVICE } from '../src/config';
import { newSigningKey } from './harness';

const ctx = useTestContext(SERVICE);

describeServiceConformance({
  service: SERVICE,
  ctx,
  configSchema,
  loadConfig: loadServiceConfig,
  buildApp,
  internalRoutes,
  distEntry: fileURLToPath(new URL('../dist/server.js', import.meta.url)),
  // The API docs UI (outside production) serves static files, and CORS answers preflights (`OPTIONS *`).
  routesWithoutResponseSchema: /^(\/docs(\/|$)|\*$)/,
  // The one required variable the schema cannot derive: the access-token signing key.
  extraEnv: { ACCESS_TOKEN_PRIVATE_KEY: newSigningKey() },
});
