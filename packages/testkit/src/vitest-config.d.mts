import type { ViteUserConfig } from 'vitest/config';

export declare function defineInfraTestConfig(overrides?: ViteUserConfig['test']): ViteUserConfig;
