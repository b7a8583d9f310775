#!/usr/bin/env node
// Dependency-direction check for the package in the current directory (run by each
// package's `check-deps` script):
//   - apps never depend on or import other apps;
//   - `@wapi/contracts` depends on nothing of ours;
//   - every `@wapi/*` import is declared in package.json and uses an exported entry point;
//   - no relative import leaves the package;
//   - the workspace dependency graph has no cycle.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const here = process.cwd();
const problems = [];

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function workspacePackages() {
  const out = new Map();
  for (const group of ['apps', 'packages']) {
    for (const name of readdirSync(join(root, group))) {
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

const all = workspacePackages();
const self = readJson(join(here, 'package.json'));
const selfInfo = all.get(self.name);
const ours = (deps = {}) => Object.keys(deps).filter((d) => all.has(d));
const declared = new Set([...ours(self.dependencies), ...ours(self.devDependencies)]);

for (const dep of declared) {
  if (selfInfo?.group === 'apps' && all.get(dep).group === 'apps')
    problems.push(`app ${self.name} depends on app ${dep}`);
  if (self.name === '@wapi/contracts')
    problems.push(`@wapi/contracts must depend on nothing of ours, but lists ${dep}`);
  // A library never ships an app inside it. A devDependency is allowed: a client's tests
  // may run against a built app (meta-client's run against meta-sandbox).
  if (selfInfo?.group === 'packages' && all.get(dep).group === 'apps' && self.dependencies?.[dep])
    problems.push(`package ${self.name} depends on app ${dep} (only a devDependency for tests is allowed)`);
}

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir)) {
    if (['node_modules', 'dist', '.turbo', '.test-results'].includes(entry)) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (/\.(ts|mts|tsx|js|mjs)$/.test(entry)) yield path;
  }
}

// `import x from 'y'`, `export … from 'y'`, `import('y')`, and side-effect `import 'y'`.
const importPattern =
  /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
for (const file of sourceFiles(here)) {
  const text = readFileSync(file, 'utf8');
  for (const match of text.matchAll(importPattern)) {
    const spec = match[1] ?? match[2] ?? match[3];
    const where = relative(root, file);
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(here + '/') && target !== here)
        problems.push(`${where}: relative import ${spec} leaves the package`);
      continue;
    }
    if (!spec.startsWith('@wapi/')) continue;
    const [scope, name, ...rest] = spec.split('/');
    const pkgName = `${scope}/${name}`;
    const target = all.get(pkgName);
    if (!target) {
      problems.push(`${where}: imports unknown workspace package ${pkgName}`);
      continue;
    }
    if (pkgName === self.name) continue;
    if (!declared.has(pkgName))
      problems.push(`${where}: imports ${pkgName}, which package.json does not declare`);
    if (selfInfo?.group === 'apps' && target.group === 'apps')
      problems.push(`${where}: app imports app ${pkgName}`);
    const subpath = rest.length ? `./${rest.join('/')}` : '.';
    if (!Object.hasOwn(target.pkg.exports ?? {}, subpath)) {
      problems.push(`${where}: ${spec} is not an exported entry point of ${pkgName}`);
    }
  }
}

// Cycle check over the whole workspace graph (dependencies + devDependencies).
const graph = new Map(
  [...all].map(([name, info]) => [name, [...ours(info.pkg.dependencies), ...ours(info.pkg.devDependencies)]]),
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

if (problems.length) {
  console.error(`check-deps: ${self.name}: ${problems.length} problem(s)`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}
console.log(`check-deps: ${self.name}: ok (${declared.size} workspace dependencies)`);
