import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openApiDocument, openApiText } from '../src/openapi';

const docPath = fileURLToPath(new URL('../../../docs/openapi.json', import.meta.url));

describe('OpenAPI', () => {
  it('docs/openapi.json is the document the route schemas generate (run `pnpm --filter @wapi/gateway build` to update it)', async () => {
    // Compared as data: the build formats the file with biome.
    expect(JSON.parse(readFileSync(docPath, 'utf8'))).toEqual(JSON.parse(await openApiText()));
  });

  it('lists every public route with its error answers, and nothing internal', async () => {
    const doc = (await openApiDocument()) as {
      openapi: string;
      paths: Record<string, Record<string, { responses: object }>>;
    };
    expect(doc.openapi).toMatch(/^3\./);
    const paths = Object.keys(doc.paths);
    expect(paths).toContain('/api/v1/auth/login');
    expect(paths).toContain('/api/v1/members/{userId}');
    expect(paths.every((p) => p.startsWith('/api/v1/'))).toBe(true);
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        expect(Object.keys(op.responses), `${method} ${path}`).toContain('4XX');
      }
    }
  });
});
