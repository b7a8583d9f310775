import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where the local infrastructure answers, as written by `infra/infra.sh start` to `.infra/env`. */
export interface InfraEnv {
  redisUrl: string;
  mongoUrl: string;
  awsEndpointUrl: string;
  awsRegion: string;
  awsAccessKeyId: string;
  awsSecretAccessKey: string;
}

/** The repository root: the nearest folder above this file holding pnpm-workspace.yaml. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'pnpm-workspace.yaml'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root (pnpm-workspace.yaml)');
    dir = parent;
  }
  return dir;
}

export function infraDir(): string {
  return process.env.WAPI_INFRA_DIR ?? join(repoRoot(), '.infra');
}

export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) out[match[1]!] = match[2]!;
  }
  return out;
}

/**
 * Makes sure Redis, FerretDB and moto answer, starting them when needed (the script is
 * idempotent and serialises concurrent callers), and returns where they listen.
 */
export async function ensureInfra(): Promise<InfraEnv> {
  const script = join(repoRoot(), 'infra', 'infra.sh');
  try {
    await run('bash', [script, 'start'], { timeout: 15 * 60_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `could not start the test infrastructure with infra/infra.sh start:\n${e.stdout ?? ''}${e.stderr ?? e.message}`,
    );
  }
  const env = parseEnvFile(readFileSync(join(infraDir(), 'env'), 'utf8'));
  const need = (key: string) => {
    const value = env[key];
    if (!value)
      throw new Error(
        `${join(infraDir(), 'env')} lacks ${key}; run infra/infra.sh stop && infra/infra.sh start`,
      );
    return value;
  };
  return {
    redisUrl: need('WAPI_REDIS_URL'),
    mongoUrl: need('WAPI_MONGO_URL'),
    awsEndpointUrl: need('WAPI_AWS_ENDPOINT_URL'),
    awsRegion: need('AWS_REGION'),
    awsAccessKeyId: need('AWS_ACCESS_KEY_ID'),
    awsSecretAccessKey: need('AWS_SECRET_ACCESS_KEY'),
  };
}
