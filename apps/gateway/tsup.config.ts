import { defineConfig } from 'tsup';

// Workspace packages are TypeScript source: bundle them in. Third-party dependencies stay
// external and are installed beside dist/ (they are this app's `dependencies`).
export default defineConfig({
  // write-openapi: run by `build` to keep docs/openapi.json current; store-app-secret: an operator's
  // command (docs/operations.md).
  entry: ['src/server.ts', 'src/write-openapi.ts', 'src/store-app-secret.ts'],
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  clean: true,
  noExternal: [/^@wapi\//],
});
