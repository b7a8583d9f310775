import { defineConfig } from 'tsup';

// Workspace packages are TypeScript source: bundle them in. Third-party dependencies stay
// external and are installed beside dist/ (they are this app's `dependencies`).
export default defineConfig({
  // The processor's worker thread (PROCESSOR_THREAD) is an entry of its own, loaded beside server.js.
  entry: ['src/server.ts', 'src/processor-worker.ts'],
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  clean: true,
  noExternal: [/^@wapi\//],
});
