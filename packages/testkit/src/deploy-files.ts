import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from './infra';

/** A long-syntax volume mount of a compose service (`volumes: - { type: volume, … }`). */
export interface ComposeMount {
  type?: string;
  source?: string;
  target?: string;
  read_only?: boolean;
  volume?: { subpath?: string };
}

export interface ComposeService {
  image?: string;
  build?: { context?: string; args?: Record<string, string> };
  environment?: Record<string, string | number | boolean | null>;
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test?: unknown };
  command?: unknown;
  entrypoint?: unknown;
  ports?: string[];
  /** Short (`name:/path`) or long syntax. */
  volumes?: (string | ComposeMount)[];
  stop_grace_period?: string;
  user?: string;
  network_mode?: string;
  restart?: string;
}

/** The top-level docker-compose.yml, with YAML merge keys (`<<`) resolved. */
export function readCompose(): {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
} {
  return parse(readFileSync(join(repoRoot(), 'docker-compose.yml'), 'utf8'), { merge: true });
}

/**
 * Whether a compose `environment` provides `name`: directly, or as `NAME_FILE` (the
 * docker-secrets convention every service accepts: the value is read from that file).
 */
export function composeSets(environment: ComposeService['environment'], name: string): boolean {
  return Object.hasOwn(environment ?? {}, name) || Object.hasOwn(environment ?? {}, `${name}_FILE`);
}

/** One `${…}` reference in a compose value, as compose interpolates it. */
export interface ComposeVariable {
  name: string;
  /** `:?` and `?` make compose refuse to start when unset; the others substitute a default. */
  operator: ':?' | '?' | ':-' | '-' | ':+' | '+' | '';
  /** The error message (`:?`, `?`) or the default (`:-`, `-`, `:+`, `+`). */
  argument: string;
}

/**
 * The variables a compose value interpolates, in order (`$$` is a literal `$` and is
 * skipped; a bare `$NAME` is reported with operator `''`). Lets a test prove that no
 * credential has a default without `docker compose config`.
 */
export function composeVariables(value: string): ComposeVariable[] {
  const found: ComposeVariable[] = [];
  const pattern =
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:\?|\?|:-|-|:\+|\+)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;
  for (const match of value.matchAll(pattern)) {
    if (match[0] === '$$') continue;
    if (match[4]) found.push({ name: match[4], operator: '', argument: '' });
    else
      found.push({
        name: match[1]!,
        operator: (match[2] ?? '') as ComposeVariable['operator'],
        argument: match[3] ?? '',
      });
  }
  return found;
}

/** A compose duration (`15s`, `1m30s`, `500ms`) in milliseconds. */
export function composeDurationMs(duration: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001 };
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== duration)
    throw new Error(`not a compose duration: ${JSON.stringify(duration)} (write e.g. 15s or 1m30s)`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
}

/** One instruction of the Dockerfile, continuation lines joined. */
export interface DockerInstruction {
  keyword: string;
  /** Everything after the keyword, as written. */
  args: string;
  /** The `AS` name of the stage it belongs to ('' before the first FROM). */
  stage: string;
}

/** The top-level Dockerfile's instructions, comments dropped, `\` continuations joined. */
export function readDockerfile(): DockerInstruction[] {
  const text = readFileSync(join(repoRoot(), 'Dockerfile'), 'utf8');
  const lines = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n\s*/g, ' ')
    .split('\n');
  const out: DockerInstruction[] = [];
  let stage = '';
  for (const line of lines) {
    const match = /^([A-Z]+)\s+(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, keyword, args] = match as unknown as [string, string, string];
    if (keyword === 'FROM') stage = /\sAS\s+(\S+)/i.exec(args)?.[1] ?? '';
    out.push({ keyword, args: args.trim(), stage });
  }
  return out;
}

/**
 * Splits a shell-form command into words the way `sh` would for simple commands: single
 * and double quotes group, `${NAME}`/`$NAME` expand from `vars` (an unknown one throws,
 * so a renamed build argument fails loudly). Enough for the Dockerfile's RUN lines.
 */
export function shellWords(command: string, vars: Readonly<Record<string, string>>): string[] {
  const expand = (name: string) => {
    const value = vars[name];
    if (value === undefined)
      throw new Error(`shellWords: no value for $${name} in ${JSON.stringify(command)}`);
    return value;
  };
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (c === '$') {
      const braced = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(command.slice(i));
      const bare = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(command.slice(i));
      const match = braced ?? bare;
      if (!match) throw new Error(`shellWords: unsupported $ in ${JSON.stringify(command)}`);
      word = (word ?? '') + expand(match[1]!);
      i += match[0].length - 1;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (/[;&|<>`\\]/.test(c)) {
      throw new Error(
        `shellWords: ${JSON.stringify(c)} is beyond a simple command in ${JSON.stringify(command)}`,
      );
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) throw new Error(`shellWords: unterminated ${quote} in ${JSON.stringify(command)}`);
  if (word !== undefined) words.push(word);
  return words;
}

/** Variable names a `ConfigError` output says are required (`NAME is required …`). */
export function requiredVariablesIn(output: string): string[] {
  return [...output.matchAll(/^\s*- ([A-Z][A-Z0-9_]*) is required/gm)].map((m) => m[1]!).sort();
}
