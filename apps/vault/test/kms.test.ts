import { randomBytes } from 'node:crypto';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { createLogger } from '@wapi/service-kit';
import { useTestContext } from '@wapi/testkit';
import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { keyRingOf, secretStoreOf } from '../src/app';
import { queueAuditor } from '../src/audit';
import { loadServiceConfig } from '../src/config';
import { kekUsage } from '../src/data/kek-usage.repository';
import { createKmsClient } from '../src/data/kms-kek';
import { sealedCache } from '../src/data/sealed-cache';
import { open, parseEnvelope, seal } from '../src/domain/envelope';
import { rewrapAll } from '../src/workers/rewrap';
import { newKey, secretUrl, startVault, vaultEnv } from './harness';

const ctx = useTestContext('vault-kms');
let keyId: string;
let env: Record<string, string>;
const master = newKey();

beforeAll(async () => {
  const aws = {
    region: ctx.infra.awsRegion,
    endpoint: ctx.infra.awsEndpointUrl,
    accessKeyId: ctx.infra.awsAccessKeyId,
    secretAccessKey: ctx.infra.awsSecretAccessKey,
  };
  keyId = (await createKmsClient(aws).send(new CreateKeyCommand({ Description: 'wapi vault test KEK' })))
    .KeyMetadata!.KeyId!;
  env = vaultEnv(ctx, {
    TOKEN_MASTER_KEY: master,
    VAULT_AWS_ENDPOINT: aws.endpoint,
    VAULT_AWS_REGION: aws.region,
    VAULT_AWS_ACCESS_KEY_ID: aws.accessKeyId,
    VAULT_AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
  });
});

describe('a key version held by AWS KMS', () => {
  it('rewraps local data keys to the KMS version, seals new secrets with it, and opens both with version 1 retired', async () => {
    const old = secretUrl('ws_kms', 'meta.access_token', 'old');
    const fresh = secretUrl('ws_kms', 'meta.access_token', 'new');
    const [a, b] = [`EAAG${randomBytes(16).toString('hex')}`, `EAAG${randomBytes(16).toString('hex')}`];
    const local = await startVault(ctx, env);
    await local.call('gateway', 'PUT', old, { value: a });
    await local.close();

    const withKms = { ...env, VAULT_KMS_KEYS: `2=${keyId}` };
    const config = loadServiceConfig(withKms);
    const redis = new Redis(ctx.infra.redisUrl, { maxRetriesPerRequest: null });
    const audit = queueAuditor({
      connection: redis,
      prefix: ctx.prefix,
      log: createLogger('vault', 'silent'),
    });
    try {
      const result = await rewrapAll({
        ring: keyRingOf(config),
        store: secretStoreOf(config, ctx.db),
        cache: sealedCache(redis, ctx.prefix),
        usage: kekUsage(ctx.db, { limit: 2 ** 32 }),
        audit,
      });
      expect(result).toMatchObject({ kekVersion: 2, rewrapped: 1, remaining: 0 });
    } finally {
      await audit.close();
      redis.disconnect();
    }

    const vault = await startVault(ctx, { ...withKms, VAULT_MIN_KEY_VERSION: '2' });
    try {
      expect((await vault.call('gateway', 'PUT', fresh, { value: b })).json().kekVersion).toBe(2);
      expect((await vault.call('message-sender', 'GET', old)).json()).toMatchObject({
        value: a,
        kekVersion: 2,
      });
      expect((await vault.call('message-sender', 'GET', fresh)).json()).toMatchObject({
        value: b,
        kekVersion: 2,
      });
    } finally {
      await vault.close();
    }
  });

  it('refuses a KMS-wrapped data key presented for another record (the encryption context)', async () => {
    const ring = keyRingOf(loadServiceConfig({ ...env, VAULT_KMS_KEYS: `2=${keyId}` }));
    const here = { workspaceId: 'ws_kms', purpose: 'meta.access_token', recordId: 'r1', revision: 1 };
    const sealed = await seal(ring, here, 'value');
    expect(parseEnvelope(sealed).wrappedKey.length).toBeGreaterThan(60);
    expect(await open(ring, here, sealed)).toBe('value');
    const error = await open(ring, { ...here, recordId: 'r2' }, sealed).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('VAULT_SECRET_UNREADABLE');
  });
});
