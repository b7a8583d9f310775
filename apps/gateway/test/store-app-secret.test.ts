import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PLATFORM_WORKSPACE_ID, secretPath } from '@wapi/contracts';
import { internalAuthEnv, mintServiceToken, testKeySet, useTestContext } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVault } from './harness';

const ctx = useTestContext('gwsecret');
const cli = fileURLToPath(new URL('../dist/store-app-secret.js', import.meta.url));
let vault: Awaited<ReturnType<typeof startVault>>;

beforeAll(async () => {
  if (!existsSync(cli))
    throw new Error(`${cli} is missing: build the gateway first (pnpm --filter @wapi/gateway build)`);
  vault = await startVault(ctx);
}, 60_000);
afterAll(async () => {
  await vault?.stop();
});

const run = (input: string, args: string[] = [], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [cli, ...args], {
    input,
    encoding: 'utf8',
    timeout: 30_000,
    env: {
      PATH: process.env.PATH ?? '',
      VAULT_URL: vault.url,
      META_APP_ID: '100000000000777',
      KEY_PREFIX: ctx.prefix,
      ...internalAuthEnv('gateway'),
      ...env,
    },
  });

/** The stored value, read as webhook-ingest reads it (the one reader vault allows). */
async function readAsIngest(recordId: string): Promise<{ status: number; value?: string }> {
  const key = testKeySet().get('webhook-ingest')!;
  const answer = await fetch(
    `${vault.url}${secretPath(PLATFORM_WORKSPACE_ID, 'meta.app_secret', recordId)}`,
    {
      headers: {
        authorization: `Bearer ${mintServiceToken(key.privateKey, { iss: 'webhook-ingest', aud: 'vault' })}`,
      },
    },
  );
  return {
    status: answer.status,
    ...(answer.ok ? { value: ((await answer.json()) as { value: string }).value } : {}),
  };
}

describe('dist/store-app-secret.js (the operator command that puts the Meta app secret in vault)', () => {
  it('stores the secret read from stdin under the app id, and a staged rotation under <appId>.next, printing no value', async () => {
    const current = run('0123456789abcdef0123456789abcdef\n');
    expect(current.status, current.stderr).toBe(0);
    expect(current.stdout).toMatch(/stored meta\.app_secret 100000000000777 \(revision \d+\)/);
    expect(current.stdout + current.stderr).not.toContain('0123456789abcdef');
    expect(await readAsIngest('100000000000777')).toEqual({
      status: 200,
      value: '0123456789abcdef0123456789abcdef',
    });

    const staged = run('fedcba9876543210fedcba9876543210', ['--next']);
    expect(staged.status, staged.stderr).toBe(0);
    expect(await readAsIngest('100000000000777.next')).toEqual({
      status: 200,
      value: 'fedcba9876543210fedcba9876543210',
    });
    expect((await readAsIngest('100000000000777')).value).toBe('0123456789abcdef0123456789abcdef');
  });

  it('refuses an empty or malformed input and a missing app id, saying what to do, and stores nothing', async () => {
    const empty = run('');
    expect(empty.status).toBe(1);
    expect(empty.stderr).toMatch(/pipe the app secret/);
    const spaced = run('two words here');
    expect(spaced.status).toBe(1);
    const noApp = run('0123456789abcdef0123456789abcdef', [], { META_APP_ID: '' });
    expect(noApp.status).toBe(1);
    expect(noApp.stderr).toMatch(/META_APP_ID/);
    expect(noApp.stderr).not.toContain('0123456789abcdef');
  });
});
