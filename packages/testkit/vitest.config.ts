import { defineInfraTestConfig } from './src/vitest-config.mjs';

// Two workers at least: the isolation test needs its two files to run at the same time.
export default defineInfraTestConfig({ maxWorkers: 2 });
