import { defineConfig } from 'tsup';

// Workspace packages are TypeScript source: bundle them in. Third-party dependencies stay
// external and are installed beside dist/ (they are this app's `dependencies`).
export default defineConfig({
  entry: ['src/server.ts', 'src/rewrap.ts'],
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  clean: true,
  noExternal: [/^@wapi\//],
});
