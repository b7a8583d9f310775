// Plain JavaScript on purpose: vitest loads config files with Node, which cannot import
// TypeScript from a workspace package. Types are in vitest-config.d.mts.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Vitest config for packages whose tests use real infrastructure: the global set-up
 * starts it once; files run in parallel, each isolated by useTestContext().
 */
export function defineInfraTestConfig(overrides = {}) {
  return defineConfig({
    test: {
      globalSetup: [fileURLToPath(new URL('./global-setup.ts', import.meta.url))],
      pool: 'forks',
      fileParallelism: true,
      testTimeout: 30_000,
      hookTimeout: 60_000,
      ...overrides,
    },
  });
}
