import type { InfraEnv } from './infra';

// What the global set-up hands to every test file through vitest's provide/inject.
declare module 'vitest' {
  export interface ProvidedContext {
    infra: InfraEnv;
    /** Unique per test run; lets files of one run meet (see the isolation test). */
    runId: string;
  }
}
