#!/usr/bin/env node
// Dependency-direction check for the package in the current directory (run by each
// package's `check-deps` script):
//   - apps never depend on or import other apps; the one exception is a devDependency on
//     `@wapi/meta-sandbox` (Meta's stand-in) so that turbo builds it before the tests that
//     start it through `startMetaSandbox()` from `@wapi/testkit`;
//   - a library never depends on an app, except that same devDependency for its tests, and
//     `@wapi/testkit` lists no app at all (meta-sandbox's own tests use testkit);
//   - only files under `test/` may import an app (and they should import the helper instead);
//   - `@wapi/contracts` depends on nothing of ours;
//   - every `@wapi/*` import is declared in package.json and uses an exported entry point;
//   - no relative import leaves the package;
//   - app code (`apps/*/src/**`) reaches MongoDB only through `@wapi/store`'s repositories:
//     no `.collection(` call and no value import from `mongodb` (`import type` is fine);
//   - the workspace dependency graph has no cycle.
// `checkPackage(root, dir)` is exported for the tests (scripts/check-deps.test.mjs).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The one app other packages may list, as a devDependency, to start it in their tests. */
export const TEST_APP = '@wapi/meta-sandbox';

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function workspacePackages(root) {
  const out = new Map();
  for (const group of ['apps', 'packages']) {
    let names = [];
    try {
      names = readdirSync(join(root, group));
    } catch {
      continue; // a workspace without this group
    }
    for (const name of names) {
      const dir = join(root, group, name);
      try {
        const pkg = readJson(join(dir, 'package.json'));
        out.set(pkg.name, { dir, group, pkg });
      } catch {
        // not a package folder
      }
    }
  }
  return out;
}

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir)) {
    if (['node_modules', 'dist', '.turbo', '.test-results'].includes(entry)) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (/\.(ts|mts|tsx|js|mjs)$/.test(entry)) yield path;
  }
}

/**
 * `text` with every comment blanked out (newlines kept, so line numbers stay right), so that
 * an import or a `.collection(` written in a comment is not reported. Strings are kept
 * (import specifiers live in them) unless `blankStrings`, which also blanks their contents
 * and the literal parts of template literals (for finding calls, not imports).
 */
export function withoutComments(text, { blankStrings = false } = {}) {
  const blank = (s) => (blankStrings ? s.replace(/[^\n]/g, ' ') : s);
  let out = '';
  let i = 0;
  // Stack of open template literals / `${` expressions: 't' (inside `…`) or 'e' (inside ${…}).
  const stack = [];
  let braces = 0;
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    const inTemplate = stack.at(-1) === 't';
    if (inTemplate) {
      if (c === '\\') {
        out += blank(c + (next ?? ''));
        i += 2;
      } else if (c === '`') {
        stack.pop();
        out += c;
        i += 1;
      } else if (c === '$' && next === '{') {
        stack.push('e');
        stack.push(braces);
        braces = 0;
        out += '${';
        i += 2;
      } else {
        out += blank(c);
        i += 1;
      }
      continue;
    }
    if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') {
        out += ' ';
        i += 1;
      }
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      out += c + blank(text.slice(i + 1, j)) + text.slice(j, j + 1);
      i = j + 1;
    } else if (c === '`') {
      stack.push('t');
      out += c;
      i += 1;
    } else if (c === '{') {
      braces += 1;
      out += c;
      i += 1;
    } else if (c === '}' && braces === 0 && typeof stack.at(-1) === 'number') {
      braces = stack.pop();
      stack.pop(); // the 'e' marker: back inside the template literal
      out += c;
      i += 1;
    } else {
      if (c === '}') braces -= 1;
      out += c;
      i += 1;
    }
  }
  return out;
}

const lineOf = (text, index) => text.slice(0, index).split('\n').length;

// `import x from 'y'`, `export … from 'y'`, `import('y')`, and side-effect `import 'y'`.
// The clause (group 2) stops at a quote or `;`, so that it never spans two statements.
const importPattern =
  /\b(import|export)\s([^'";]*?)from\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
// `db.collection('x')`, `db.collection<Doc>('x')`, `db.collection?.('x')`.
const collectionCall = /\.collection\s*(?:<[^()]*?>)?\s*(?:\?\.)?\s*\(/g;

/**
 * Checks the workspace package in `dir` against the dependency rules of the workspace at
 * `root` (which holds `apps/*` and `packages/*`). Returns the problems, one sentence each,
 * naming the file (relative to `root`) and what to do; empty when the package is fine.
 */
export function checkPackage(root, packageDir) {
  const dir = resolve(packageDir);
  const problems = [];
  const all = workspacePackages(root);
  const self = readJson(join(dir, 'package.json'));
  const selfInfo = all.get(self.name);
  const isApp = selfInfo?.group === 'apps';
  const ours = (deps = {}) => Object.keys(deps).filter((d) => all.has(d));
  const declared = new Set([...ours(self.dependencies), ...ours(self.devDependencies)]);

  for (const dep of declared) {
    if (self.name === '@wapi/contracts')
      problems.push(`@wapi/contracts must depend on nothing of ours, but lists ${dep}`);
    if (all.get(dep).group !== 'apps') continue;
    const kind = self.dependencies?.[dep] ? 'dependency' : 'devDependency';
    if (self.name === '@wapi/testkit')
      problems.push(
        `@wapi/testkit lists app ${dep}; testkit depends on no app (startMetaSandbox() resolves ${TEST_APP} from the calling package), remove it`,
      );
    else if (dep !== TEST_APP || kind === 'dependency')
      problems.push(
        `${isApp ? 'app' : 'package'} ${self.name} lists app ${dep} as a ${kind}; the only app anything may list is ${TEST_APP}, as a devDependency for tests`,
      );
  }

  const srcDir = join(dir, 'src') + sep;
  const testDir = join(dir, 'test') + sep;
  for (const file of sourceFiles(dir)) {
    const source = readFileSync(file, 'utf8');
    const text = withoutComments(source);
    const where = (index) => `${relative(root, file)}:${lineOf(text, index)}`;
    const appCode = isApp && file.startsWith(srcDir);
    for (const match of text.matchAll(importPattern)) {
      const spec = match[3] ?? match[4] ?? match[5];
      // The side-effect form may match from the end of the previous line.
      const at = where(match.index + match[0].search(/\S/));
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(dir + sep) && target !== dir)
          problems.push(`${at}: relative import ${spec} leaves the package`);
        continue;
      }
      if (appCode && (spec === 'mongodb' || spec.startsWith('mongodb/'))) {
        // Only `import type` / `export type` vanish at runtime; `import { type A }` still
        // loads the driver under verbatimModuleSyntax.
        const typeOnly = match[3] !== undefined && /^type\s/.test(match[2]);
        if (!typeOnly)
          problems.push(
            `${at}: app code imports values from '${spec}'; reach MongoDB through @wapi/store's repositories (type-only \`import type { Db } from 'mongodb'\` is fine)`,
          );
      }
      if (!spec.startsWith('@wapi/')) continue;
      const [scope, name, ...rest] = spec.split('/');
      const pkgName = `${scope}/${name}`;
      const target = all.get(pkgName);
      if (!target) {
        problems.push(`${at}: imports unknown workspace package ${pkgName}`);
        continue;
      }
      if (pkgName === self.name) continue;
      if (!declared.has(pkgName))
        problems.push(`${at}: imports ${pkgName}, which package.json does not declare`);
      if (target.group === 'apps') {
        // Even tests import no app: the sandbox has no entry points, its built server is
        // started as a process by startMetaSandbox().
        if (pkgName !== TEST_APP) problems.push(`${at}: imports app ${pkgName}; nothing may import an app`);
        else if (!file.startsWith(testDir))
          problems.push(
            `${at}: imports ${TEST_APP} outside test/; only tests use it, through startMetaSandbox() from @wapi/testkit`,
          );
        else
          problems.push(
            `${at}: imports ${TEST_APP}; start it with startMetaSandbox() from @wapi/testkit instead`,
          );
        continue;
      }
      const subpath = rest.length ? `./${rest.join('/')}` : '.';
      if (!Object.hasOwn(target.pkg.exports ?? {}, subpath)) {
        problems.push(`${at}: ${spec} is not an exported entry point of ${pkgName}`);
      }
    }
    if (appCode) {
      const code = withoutComments(source, { blankStrings: true });
      for (const match of code.matchAll(collectionCall))
        problems.push(
          `${where(match.index)}: app code calls .collection() directly; use a tenant or global repository from @wapi/store`,
        );
    }
  }

  // Cycle check over the whole workspace graph (dependencies + devDependencies).
  const graph = new Map(
    [...all].map(([name, info]) => [
      name,
      [...ours(info.pkg.dependencies), ...ours(info.pkg.devDependencies)],
    ]),
  );
  const state = new Map();
  function visit(name, path) {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'active') {
      problems.push(`dependency cycle: ${[...path.slice(path.indexOf(name)), name].join(' -> ')}`);
      return;
    }
    state.set(name, 'active');
    for (const dep of graph.get(name) ?? []) visit(dep, [...path, name]);
    state.set(name, 'done');
  }
  visit(self.name, []);
  return problems;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const here = process.cwd();
  const name = readJson(join(here, 'package.json')).name;
  const problems = checkPackage(root, here);
  const pkg = readJson(join(here, 'package.json'));
  const workspaceDeps = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((d) =>
    d.startsWith('@wapi/'),
  ).length;
  if (problems.length) {
    console.error(`check-deps: ${name}: ${problems.length} problem(s)`);
    for (const p of problems) console.error(`  - ${p}`);
    process.exit(1);
  }
  console.log(`check-deps: ${name}: ok (${workspaceDeps} workspace dependencies)`);
}
