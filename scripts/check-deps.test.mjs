// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are source code under test, placeholders included
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkPackage, withoutComments } from './check-deps.mjs';

// Each test builds a small fake workspace (apps/*, packages/*) in a temporary folder and
// checks one package of it, the way `node ../../scripts/check-deps.mjs` does from its folder.
const roots = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** `files` maps paths under the root to contents; objects are written as JSON. */
function workspace(files) {
  const root = mkdtempSync(join(tmpdir(), 'check-deps-'));
  roots.push(root);
  const base = {
    'packages/contracts/package.json': { name: '@wapi/contracts', exports: { '.': './src/index.ts' } },
    'packages/store/package.json': {
      name: '@wapi/store',
      exports: { '.': './src/index.ts' },
      dependencies: { '@wapi/contracts': 'workspace:*' },
    },
    'packages/testkit/package.json': {
      name: '@wapi/testkit',
      exports: { '.': './src/index.ts' },
      dependencies: { '@wapi/contracts': 'workspace:*' },
    },
    'apps/meta-sandbox/package.json': {
      name: '@wapi/meta-sandbox',
      devDependencies: { '@wapi/testkit': 'workspace:*' },
    },
    'apps/vault/package.json': { name: '@wapi/vault' },
  };
  for (const [path, content] of Object.entries({ ...base, ...files })) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return { root, check: (dir) => checkPackage(root, join(root, dir)) };
}

const gateway = (pkg = {}) => ({
  'apps/gateway/package.json': {
    name: '@wapi/gateway',
    dependencies: { '@wapi/store': 'workspace:*' },
    ...pkg,
  },
});

describe('check-deps: which apps a package may list', () => {
  it('accepts an app that devDepends on @wapi/meta-sandbox and starts it from test/ through testkit', () => {
    const { check } = workspace({
      ...gateway({
        devDependencies: { '@wapi/meta-sandbox': 'workspace:*', '@wapi/testkit': 'workspace:*' },
      }),
      'apps/gateway/test/send.test.ts': "import { startMetaSandbox } from '@wapi/testkit';\n",
    });
    expect(check('apps/gateway')).toEqual([]);
  });

  it('refuses @wapi/meta-sandbox as a (runtime) dependency of an app', () => {
    const { check } = workspace(gateway({ dependencies: { '@wapi/meta-sandbox': 'workspace:*' } }));
    expect(check('apps/gateway')).toEqual([
      'app @wapi/gateway lists app @wapi/meta-sandbox as a dependency; the only app anything may list is @wapi/meta-sandbox, as a devDependency for tests',
    ]);
  });

  it('refuses any other app, even as a devDependency', () => {
    const { check } = workspace(gateway({ devDependencies: { '@wapi/vault': 'workspace:*' } }));
    expect(check('apps/gateway')).toEqual([
      'app @wapi/gateway lists app @wapi/vault as a devDependency; the only app anything may list is @wapi/meta-sandbox, as a devDependency for tests',
    ]);
  });

  it('lets a library devDepend on meta-sandbox (meta-client) but not depend on it', () => {
    const client = (deps) => ({
      'packages/meta-client/package.json': { name: '@wapi/meta-client', exports: { '.': './x.ts' }, ...deps },
    });
    expect(
      workspace(client({ devDependencies: { '@wapi/meta-sandbox': 'workspace:*' } })).check(
        'packages/meta-client',
      ),
    ).toEqual([]);
    expect(
      workspace(client({ dependencies: { '@wapi/meta-sandbox': 'workspace:*' } })).check(
        'packages/meta-client',
      ),
    ).toEqual([
      'package @wapi/meta-client lists app @wapi/meta-sandbox as a dependency; the only app anything may list is @wapi/meta-sandbox, as a devDependency for tests',
    ]);
  });

  it('refuses any app in @wapi/testkit, naming why (and the cycle it makes)', () => {
    const { check } = workspace({
      'packages/testkit/package.json': {
        name: '@wapi/testkit',
        exports: { '.': './src/index.ts' },
        devDependencies: { '@wapi/meta-sandbox': 'workspace:*' },
      },
    });
    expect(check('packages/testkit')).toEqual([
      '@wapi/testkit lists app @wapi/meta-sandbox; testkit depends on no app (startMetaSandbox() resolves @wapi/meta-sandbox from the calling package), remove it',
      'dependency cycle: @wapi/testkit -> @wapi/meta-sandbox -> @wapi/testkit',
    ]);
  });
});

describe('check-deps: who may import an app', () => {
  const withSandbox = gateway({ devDependencies: { '@wapi/meta-sandbox': 'workspace:*' } });

  it('refuses @wapi/meta-sandbox imported from src/', () => {
    const { check } = workspace({
      ...withSandbox,
      'apps/gateway/src/app.ts': "\nimport '@wapi/meta-sandbox';\n",
    });
    expect(check('apps/gateway')).toEqual([
      'apps/gateway/src/app.ts:2: imports @wapi/meta-sandbox outside test/; only tests use it, through startMetaSandbox() from @wapi/testkit',
    ]);
  });

  it('points a test that imports the sandbox itself to the testkit helper', () => {
    const { check } = workspace({
      ...withSandbox,
      'apps/gateway/test/a.test.ts': "const s = await import('@wapi/meta-sandbox');\n",
    });
    expect(check('apps/gateway')).toEqual([
      'apps/gateway/test/a.test.ts:1: imports @wapi/meta-sandbox; start it with startMetaSandbox() from @wapi/testkit instead',
    ]);
  });

  it('refuses importing another app anywhere, declared or not', () => {
    const { check } = workspace({
      ...gateway(),
      'apps/gateway/test/a.test.ts': "import { x } from '@wapi/vault';\n",
    });
    expect(check('apps/gateway')).toEqual([
      'apps/gateway/test/a.test.ts:1: imports @wapi/vault, which package.json does not declare',
      'apps/gateway/test/a.test.ts:1: imports app @wapi/vault; nothing may import an app',
    ]);
  });
});

describe('check-deps: app code reaches MongoDB only through @wapi/store', () => {
  it('accepts `import type` from mongodb and repository calls', () => {
    const { check } = workspace({
      ...gateway(),
      'apps/gateway/src/app.ts': [
        "import type { Db, MongoClient } from 'mongodb';",
        "export type { Collection } from 'mongodb';",
        "import { tenantRepository } from '@wapi/store';",
        '// Not db.collection("x"): the repositories own their collections.',
        "/* import { MongoClient } from 'mongodb'; */",
        "const text = 'db.collection(';",
        'export const make = (db: Db) => tenantRepository(db);',
      ].join('\n'),
    });
    expect(check('apps/gateway')).toEqual([]);
  });

  it('flags value imports from mongodb in src/, including inline `type` ones that still load the driver', () => {
    const { check } = workspace({
      ...gateway(),
      'apps/gateway/src/a.ts': "import { MongoClient } from 'mongodb';\n",
      'apps/gateway/src/b.ts': "import { type Db, type MongoClient } from 'mongodb';\n",
      'apps/gateway/src/c.ts': "export const load = () => import('mongodb');\n",
      'apps/gateway/src/d.ts': "import * as bson from 'mongodb/lib/bson';\n",
    });
    const advice =
      "reach MongoDB through @wapi/store's repositories (type-only `import type { Db } from 'mongodb'` is fine)";
    expect(check('apps/gateway')).toEqual([
      `apps/gateway/src/a.ts:1: app code imports values from 'mongodb'; ${advice}`,
      `apps/gateway/src/b.ts:1: app code imports values from 'mongodb'; ${advice}`,
      `apps/gateway/src/c.ts:1: app code imports values from 'mongodb'; ${advice}`,
      `apps/gateway/src/d.ts:1: app code imports values from 'mongodb/lib/bson'; ${advice}`,
    ]);
  });

  it('flags every .collection( call in app src, with its line, generic or optional-chained', () => {
    const { check } = workspace({
      ...gateway(),
      'apps/gateway/src/data.ts': [
        "import type { Db } from 'mongodb';",
        "export const a = (db: Db) => db.collection('messages');",
        'export const b = (db: Db) => db',
        "  .collection<{ _id: string }>('contacts');",
        "export const c = (db?: Db) => db?.collection?.('x');",
        'export const d = (db: Db) => `${db.collection(`t${1}`).collectionName}`;',
      ].join('\n'),
    });
    const advice =
      'app code calls .collection() directly; use a tenant or global repository from @wapi/store';
    expect(check('apps/gateway')).toEqual([
      `apps/gateway/src/data.ts:2: ${advice}`,
      `apps/gateway/src/data.ts:4: ${advice}`,
      `apps/gateway/src/data.ts:5: ${advice}`,
      `apps/gateway/src/data.ts:6: ${advice}`,
    ]);
  });

  it('leaves app tests and libraries free to use the driver', () => {
    const driver = "import { MongoClient } from 'mongodb';\nnew MongoClient('x').db().collection('a');\n";
    const { check } = workspace({
      ...gateway(),
      'apps/gateway/test/a.test.ts': driver,
      'packages/store/src/index.ts': driver,
    });
    expect(check('apps/gateway')).toEqual([]);
    expect(check('packages/store')).toEqual([]);
  });
});

describe('check-deps: the rules it always had', () => {
  it('reports undeclared and non-exported workspace imports, escaping relative imports and contracts deps', () => {
    const { check } = workspace({
      ...gateway(),
      'apps/gateway/src/a.ts': [
        "import { x } from '@wapi/testkit';",
        "import { y } from '@wapi/store/src/tenant';",
        "import { z } from '../../vault/src/config';",
      ].join('\n'),
      'packages/contracts/package.json': {
        name: '@wapi/contracts',
        exports: { '.': './src/index.ts' },
        dependencies: { '@wapi/store': 'workspace:*' },
      },
    });
    expect(check('apps/gateway')).toEqual([
      'apps/gateway/src/a.ts:1: imports @wapi/testkit, which package.json does not declare',
      'apps/gateway/src/a.ts:2: @wapi/store/src/tenant is not an exported entry point of @wapi/store',
      'apps/gateway/src/a.ts:3: relative import ../../vault/src/config leaves the package',
      // store -> contracts -> store, reached through gateway's dependency on store.
      'dependency cycle: @wapi/store -> @wapi/contracts -> @wapi/store',
    ]);
    expect(check('packages/contracts')).toContain(
      '@wapi/contracts must depend on nothing of ours, but lists @wapi/store',
    );
  });
});

describe('withoutComments', () => {
  it('blanks comments, keeps strings, template literals and line numbers', () => {
    const source = "a // x\n/* y\n z */ b '//' `${c /* d */}` `//`";
    const stripped = withoutComments(source);
    expect(stripped.split('\n')).toHaveLength(3);
    expect(stripped.replace(/\s+/g, ' ').trim()).toBe("a b '//' `${c }` `//`");
    const code = withoutComments(source, { blankStrings: true });
    expect(code.replace(/\s+/g, ' ').trim()).toBe("a b ' ' `${c }` ` `");
  });
});
