import { defineInfraTestConfig } from '@wapi/testkit/vitest';

// One platform per file, and the files one after the other: each starts eight processes
// on a 2-core machine, and the mixed run's timing is part of what it reports.
export default defineInfraTestConfig({ fileParallelism: false, testTimeout: 300_000, hookTimeout: 120_000 });
