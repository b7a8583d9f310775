import { defineInfraTestConfig } from '@wapi/testkit/vitest';

export default defineInfraTestConfig();
