import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, START_ORDER } from '../src/platform.mjs';

// docs/operations.md's configuration reference stays true: every variable a service's
// config schema declares (`NAME: Type.…` in apps/<service>/src/config.ts) is documented in
// that service's section, and every variable documented there still exists. Read as text,
// not imported: a library does not depend on the apps.
const doc = readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');

/** The variables a config.ts declares itself (the shared ones come from service-kit). */
function declared(service: string): string[] {
  const source = readFileSync(join(REPO_ROOT, 'apps', service, 'src', 'config.ts'), 'utf8');
  return [...source.matchAll(/^ {2}([A-Z][A-Z0-9_]+): (?:Type\.|literalUnion\(|perMinute\(|int\()/gm)].map(
    (m) => m[1] as string,
  );
}

/** The variables documented in the `### <service>` section. */
function documented(service: string): string[] {
  const start = doc.indexOf(`\n### ${service}\n`);
  if (start < 0) return [];
  const end = doc.indexOf('\n### ', start + 1);
  const section = doc.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1] as string);
}

describe('docs/operations.md', () => {
  for (const service of START_ORDER) {
    it(`documents exactly the variables apps/${service}/src/config.ts declares`, () => {
      const vars = declared(service);
      expect(vars.length, `no variables parsed from apps/${service}/src/config.ts`).toBeGreaterThan(0);
      expect(
        documented(service).sort(),
        `update the "### ${service}" table in docs/operations.md (variable, default, secret, type, meaning)`,
      ).toEqual(vars.sort());
    });
  }
});
