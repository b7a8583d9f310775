import { defineInfraTestConfig } from '@wapi/testkit/vitest';

// The up test starts the built services against the shared infrastructure; the global
// set-up makes sure it runs.
export default defineInfraTestConfig();
