import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from './infra';

export interface ComposeService {
  image?: string;
  build?: { context?: string; args?: Record<string, string> };
  environment?: Record<string, string | number | boolean | null>;
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test?: unknown };
  command?: unknown;
}

/** The top-level docker-compose.yml, with YAML merge keys (`<<`) resolved. */
export function readCompose(): { services: Record<string, ComposeService> } {
  return parse(readFileSync(join(repoRoot(), 'docker-compose.yml'), 'utf8'), { merge: true });
}

/** Variable names a `ConfigError` output says are required (`NAME is required …`). */
export function requiredVariablesIn(output: string): string[] {
  return [...output.matchAll(/^\s*- ([A-Z][A-Z0-9_]*) is required/gm)].map((m) => m[1]!).sort();
}
