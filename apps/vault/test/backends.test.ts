import { randomBytes } from 'node:crypto';
import { GetSecretValueCommand, ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { createLogger } from '@wapi/service-kit';
import { deleteKeys, useTestContext } from '@wapi/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyRingOf, secretStoreOf } from '../src/app';
import { queueAuditor } from '../src/audit';
import { loadServiceConfig } from '../src/config';
import { createSecretsManagerClient } from '../src/data/aws-secrets.repository';
import { kekUsage } from '../src/data/kek-usage.repository';
import { sealedCache } from '../src/data/sealed-cache';
import { rewrapAll } from '../src/workers/rewrap';
import { type Harness, newKey, secretUrl, startVault, vaultEnv } from './harness';

const ctx = useTestContext('vault-backends');
const token = () => `EAAG${randomBytes(20).toString('hex')}`;

/** One contract, both backends: what vault promises does not depend on where envelopes live. */
describe.each(['local', 'aws'] as const)('the %s backend', (backend) => {
  const master = newKey();
  const ws = `ws_${backend}_${randomBytes(3).toString('hex')}`;
  let env: Record<string, string>;
  let vault: Harness;

  beforeAll(async () => {
    env = vaultEnv(ctx, {
      TOKEN_MASTER_KEY: master,
      VAULT_BACKEND: backend,
      VAULT_AWS_ENDPOINT: ctx.infra.awsEndpointUrl,
      VAULT_AWS_REGION: ctx.infra.awsRegion,
      VAULT_AWS_ACCESS_KEY_ID: ctx.infra.awsAccessKeyId,
      VAULT_AWS_SECRET_ACCESS_KEY: ctx.infra.awsSecretAccessKey,
      VAULT_AWS_SECRET_PREFIX: `wapi-test/${ctx.prefix}`,
    });
    vault = await startVault(ctx, env);
  });
  afterAll(() => vault?.close());

  /** Everything the backend holds for this workspace, as text (the stored form). */
  async function stored(): Promise<string> {
    if (backend === 'local')
      return JSON.stringify(await ctx.db.collection('secrets').find({ workspaceId: ws }).toArray());
    const sm = createSecretsManagerClient({
      region: ctx.infra.awsRegion,
      endpoint: ctx.infra.awsEndpointUrl,
      accessKeyId: ctx.infra.awsAccessKeyId,
      secretAccessKey: ctx.infra.awsSecretAccessKey,
    });
    const list = await sm.send(
      new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [`wapi-test/${ctx.prefix}/`] }] }),
    );
    const out: string[] = [];
    for (const entry of list.SecretList ?? []) {
      out.push(JSON.stringify(entry));
      out.push(
        (await sm.send(new GetSecretValueCommand({ SecretId: entry.Name!, VersionStage: 'AWSCURRENT' })))
          .SecretString ?? '',
      );
    }
    return out.join('\n');
  }

  it('round-trips a value, storing only an envelope, under a name that does not reveal the tenant', async () => {
    const value = token();
    const url = secretUrl(ws, 'meta.access_token', 'waba_1');
    expect((await vault.call('gateway', 'PUT', url, { value })).statusCode).toBe(200);
    expect((await vault.call('message-sender', 'GET', url)).json()).toMatchObject({
      value,
      revision: 1,
      kekVersion: 1,
    });
    const text = await stored();
    expect(text).toMatch(/vault:v1:/);
    expect(text).not.toContain(value);
    if (backend === 'aws') {
      const names = JSON.parse(text.split('\n')[0]!).Name as string;
      expect(names).not.toContain(ws);
      expect(names).not.toContain('waba_1');
    }
  });

  it('rotates and deletes: the next read sees the change', async () => {
    const url = secretUrl(ws, 'meta.access_token', 'waba_rot');
    const [a, b] = [token(), token()];
    await vault.call('gateway', 'PUT', url, { value: a });
    expect((await vault.call('gateway', 'POST', `${url}/rotate`, { value: b })).json().revision).toBe(2);
    expect((await vault.call('message-sender', 'GET', url)).json()).toMatchObject({ value: b, revision: 2 });
    expect((await vault.call('gateway', 'DELETE', url)).json()).toEqual({ deleted: true });
    expect((await vault.call('message-sender', 'GET', url)).statusCode).toBe(404);
    // Served from MongoDB/Secrets Manager, not only from the Redis copy.
    await deleteKeys(ctx.redis, `${ctx.prefix}:{vault.sealed}:*`);
    expect((await vault.call('message-sender', 'GET', url)).statusCode).toBe(404);
    expect(
      (await vault.call('message-sender', 'GET', secretUrl(ws, 'meta.access_token', 'waba_1'))).statusCode,
    ).toBe(200);
  });

  it('takes concurrent writes to one secret as successive revisions', async () => {
    const url = secretUrl(ws, 'webhook.signing_key', 'hook_1');
    const values = Array.from({ length: 5 }, token);
    const answers = await Promise.all(values.map((value) => vault.call('gateway', 'PUT', url, { value })));
    expect(answers.map((a) => `${a.statusCode} ${a.statusCode === 200 ? '' : a.body}`)).toEqual(
      Array(5).fill('200 '),
    );
    // Distinct revisions (a write overtaken before it was acknowledged retries under a newer
    // one, so numbers may skip), and the newest acknowledged write is what a read returns.
    const revisions = answers.map((a) => a.json().revision as number);
    expect(new Set(revisions).size).toBe(5);
    const newest = revisions.indexOf(Math.max(...revisions));
    await deleteKeys(ctx.redis, `${ctx.prefix}:{vault.sealed}:*`);
    const read = await vault.call('gateway', 'GET', url);
    expect(read.json()).toMatchObject({ value: values[newest], revision: revisions[newest] });
  });

  it('lists metadata without values', async () => {
    const res = await vault.call('gateway', 'GET', `/internal/v1/workspaces/${ws}/secrets`);
    const secrets = res.json().secrets as Array<{ purpose: string; recordId: string }>;
    expect(secrets.map((s) => `${s.purpose}/${s.recordId}`).sort()).toEqual([
      'meta.access_token/waba_1',
      'webhook.signing_key/hook_1',
    ]);
    expect(res.body).not.toContain('value');
  });

  it('rewraps to a new key version; with the old one retired every secret still opens', async () => {
    const env2 = { ...env, VAULT_KEYS: `2=${newKey()}` };
    const config2 = loadServiceConfig(env2);
    const redis = new Redis(ctx.infra.redisUrl, { maxRetriesPerRequest: null });
    const audit = queueAuditor({
      connection: redis,
      prefix: ctx.prefix,
      log: createLogger('vault', 'silent'),
    });
    try {
      const result = await rewrapAll({
        ring: keyRingOf(config2),
        store: secretStoreOf(config2, ctx.db),
        cache: sealedCache(redis, ctx.prefix),
        usage: kekUsage(ctx.db, { limit: 2 ** 32 }),
        audit,
      });
      expect(result.remaining).toBe(0);
      expect(result.rewrapped).toBeGreaterThanOrEqual(2);
    } finally {
      await audit.close();
      redis.disconnect();
    }
    // From the backend itself, not from the Redis copies the job refreshed.
    await deleteKeys(ctx.redis, `${ctx.prefix}:{vault.sealed}:*`);
    const retired = await startVault(ctx, { ...env2, VAULT_MIN_KEY_VERSION: '2' });
    try {
      const read = await retired.call('message-sender', 'GET', secretUrl(ws, 'meta.access_token', 'waba_1'));
      expect(read.json()).toMatchObject({ kekVersion: 2 });
      expect(await stored()).not.toMatch(/"sealed":"vault:v1:/);
    } finally {
      await retired.close();
    }
  });
});
