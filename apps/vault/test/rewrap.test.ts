import { fileURLToPath } from 'node:url';
import type { VaultPurpose } from '@wapi/contracts';
import { asWorkspaceId } from '@wapi/store';
import { spawnService, useTestContext, waitFor } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';
import { type SecretDoc, secretDocId, secretsRepository } from '../src/data/secrets.repository';
import { open, seal } from '../src/domain/envelope';
import { createKeyRing } from '../src/domain/key-ring';
import { newKey, secretUrl, startVault, vaultEnv } from './harness';

const ctx = useTestContext('vault-rewrap');
const rewrapEntry = fileURLToPath(new URL('../dist/rewrap.js', import.meta.url));
const SECRETS = 10_000;

/** The last `rewrap progress` line's counts in a process's output. */
function lastProgress(output: string): { rewrapped: number; remaining: number } | undefined {
  const lines = output.split('\n').filter((l) => l.includes('"rewrap progress"'));
  const last = lines.at(-1);
  return last ? (JSON.parse(last) as { rewrapped: number; remaining: number }) : undefined;
}

describe('the rewrap job', () => {
  it(`re-wraps ${SECRETS} secrets to the newest key, survives a SIGKILL and resumes without loss`, async () => {
    const master = newKey();
    const next = newKey();
    const ring1 = createKeyRing({ masterKey: master, extra: '', minVersion: 1 });
    const store = secretsRepository(ctx.db);
    // Seeded directly under key version 1 (what a year of puts would have left behind).
    const expected = new Map<string, string>();
    const docs: SecretDoc[] = [];
    const purposes: VaultPurpose[] = ['meta.access_token', 'meta.app_secret'];
    for (let i = 0; i < SECRETS; i++) {
      const workspaceId = `ws_${i % 10}`;
      const purpose = purposes[i % 2]!;
      const recordId = `rec_${i}`;
      const value = `token-${i}-${master.slice(0, 4)}`;
      const ctx1 = { workspaceId, purpose, recordId, revision: 1 };
      expected.set(`${workspaceId}:${purpose}:${recordId}`, value);
      docs.push({
        _id: secretDocId(workspaceId, purpose, recordId, 1, 1),
        workspaceId,
        purpose,
        recordId,
        revision: 1,
        kekVersion: 1,
        sealed: await seal(ring1, ctx1, value),
        createdAt: new Date(),
      });
    }
    for (let i = 0; i < docs.length; i += 1_000) await store.keys.insertMany(docs.slice(i, i + 1_000));
    expect(await store.keys.countBelow(2)).toBe(SECRETS);

    const env = {
      ...vaultEnv(ctx, { TOKEN_MASTER_KEY: master, VAULT_KEYS: `2=${next}`, VAULT_REWRAP_BATCH: '500' }),
      LOG_LEVEL: 'info',
    };
    const started = Date.now();
    const first = spawnService(rewrapEntry, env);
    try {
      // Past the first round (5,000 copied, then their originals deleted) and inside the
      // second: the kill lands with copies stored whose originals are still there.
      await waitFor(() => (lastProgress(first.output())?.rewrapped ?? 0) >= 5_500, {
        what: `the first run to rewrap 5,500 secrets\n${first.output().slice(-2_000)}`,
        timeoutMs: 40_000,
        intervalMs: 10,
      });
    } finally {
      first.child.kill('SIGKILL');
    }
    expect((await first.exited).signal).toBe('SIGKILL');
    const left = await store.keys.countBelow(2);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(SECRETS);

    const second = spawnService(rewrapEntry, env);
    const { code } = await Promise.race([
      second.exited,
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`the resumed run did not finish:\n${second.output().slice(-2_000)}`)),
          50_000,
        ),
      ),
    ]).finally(() => {
      if (second.child.exitCode === null) second.child.kill('SIGKILL');
    });
    expect(code, second.output().slice(-2_000)).toBe(0);
    expect(second.output()).toContain('"rewrap finished"');
    expect(lastProgress(second.output())?.remaining).toBe(0);
    const elapsed = Date.now() - started;

    // Nothing under version 1 is left, nothing was lost or duplicated, and every value opens
    // with version 1 retired.
    expect(await store.keys.countBelow(2)).toBe(0);
    const ring2only = createKeyRing({ masterKey: master, extra: `2=${next}`, minVersion: 2 });
    let opened = 0;
    for (let w = 0; w < 10; w++) {
      const all = await store.list(asWorkspaceId(`ws_${w}`));
      for (const doc of all) {
        expect(doc.kekVersion).toBe(2);
        const key = `${doc.workspaceId}:${doc.purpose}:${doc.recordId}`;
        expect(await open(ring2only, { ...doc, revision: doc.revision }, doc.sealed!)).toBe(
          expected.get(key),
        );
        opened++;
      }
    }
    expect(opened).toBe(SECRETS);
    expect(await ctx.db.collection('secrets').countDocuments()).toBe(SECRETS);

    // The service with version 1 retired serves a rewrapped secret (from its Redis copy too).
    const vault = await startVault(ctx, { ...env, VAULT_MIN_KEY_VERSION: '2' });
    try {
      const res = await vault.call('message-sender', 'GET', secretUrl('ws_3', 'meta.app_secret', 'rec_13'));
      expect(res.statusCode).toBe(403); // app secrets are webhook-ingest's
      const read = await vault.call('webhook-ingest', 'GET', secretUrl('ws_3', 'meta.app_secret', 'rec_13'));
      expect(read.json()).toMatchObject({
        value: expected.get('ws_3:meta.app_secret:rec_13'),
        kekVersion: 2,
      });
    } finally {
      await vault.close();
    }
    console.info(`rewrap of ${SECRETS} secrets with a SIGKILL and a resume: ${elapsed} ms`);
  }, 120_000);
});
