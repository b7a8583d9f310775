import { fileURLToPath } from 'node:url';
import { spawnService, useTestContext } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';
import { newKey, vaultEnv } from './harness';

const ctx = useTestContext('vault-startup');
const server = fileURLToPath(new URL('../dist/server.js', import.meta.url));
const rewrapJob = fileURLToPath(new URL('../dist/rewrap.js', import.meta.url));

describe('vault refuses to start with a bad key configuration', () => {
  it('exits 78 naming TOKEN_MASTER_KEY when it is not 64 hex characters, without echoing it', async () => {
    const bad = `${newKey().slice(0, 60)}zzzz`;
    for (const entry of [server, rewrapJob]) {
      const proc = spawnService(entry, vaultEnv(ctx, { TOKEN_MASTER_KEY: bad }));
      expect((await proc.exited).code, entry).toBe(78);
      expect(proc.output()).toMatch(/TOKEN_MASTER_KEY is malformed: .*64 hex characters/);
      expect(proc.output()).not.toContain(bad);
    }
  });

  it('exits 78 when VAULT_MIN_KEY_VERSION is above every configured key', async () => {
    const proc = spawnService(
      server,
      vaultEnv(ctx, { TOKEN_MASTER_KEY: newKey(), VAULT_MIN_KEY_VERSION: '3' }),
    );
    expect((await proc.exited).code).toBe(78);
    expect(proc.output()).toContain('VAULT_MIN_KEY_VERSION is 3 but the newest configured key is version 1');
  });
});
