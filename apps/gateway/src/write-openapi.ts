import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openApiText } from './openapi';

// Run by `pnpm build` (after tsup): keeps docs/openapi.json current; a test fails when it is not.
const target = fileURLToPath(new URL('../../../docs/openapi.json', import.meta.url));
writeFileSync(target, await openApiText());
// In the repository's formatting, so `biome check` over docs/ stays clean (the test compares content).
const biome = fileURLToPath(new URL('../../../node_modules/.bin/biome', import.meta.url));
if (existsSync(biome)) execFileSync(biome, ['format', '--write', target], { stdio: 'ignore' });
console.log(`wrote ${target}`);
