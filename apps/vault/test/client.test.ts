import { randomBytes } from 'node:crypto';
import { isAppError, type ServiceName } from '@wapi/contracts';
import { createInternalAuth, parseInternalKeys } from '@wapi/service-kit';
import { testKeySet, useTestContext, waitFor } from '@wapi/testkit';
import { createVaultClient, type VaultClient } from '@wapi/vault-client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, type Harness, newKey, startVault, vaultEnv } from './harness';

const ctx = useTestContext('vault-client');
let vault: Harness;
let baseUrl: string;
const connections: Redis[] = [];
const clients: VaultClient[] = [];

const authOf = (service: ServiceName) =>
  createInternalAuth({
    service,
    keys: parseInternalKeys(service, { INTERNAL_AUTH_PRIVATE_KEY: testKeySet().get(service)!.privateKey }),
  });

async function client(
  service: ServiceName,
  options: { cacheTtlMs?: number; now?: () => number; subscribe?: boolean } = {},
): Promise<{ client: VaultClient; subscriber: Redis | undefined }> {
  const subscriber = options.subscribe === false ? undefined : new Redis(ctx.infra.redisUrl);
  if (subscriber) connections.push(subscriber);
  const made = createVaultClient({
    baseUrl,
    auth: authOf(service),
    prefix: ctx.prefix,
    ...(subscriber ? { subscriber } : {}),
    ...(options.cacheTtlMs === undefined ? {} : { cacheTtlMs: options.cacheTtlMs }),
    ...(options.now ? { now: options.now } : {}),
  });
  clients.push(made);
  await made.ready();
  return { client: made, subscriber };
}

/** How many reads of this secret vault served (each read is audited). */
const readsAt = async (ws: string) =>
  (await auditEvents(ctx)).filter((e) => e.workspaceId === ws && e.action === 'vault.secret.read').length;

const token = () => `EAAG${randomBytes(16).toString('hex')}`;

beforeAll(async () => {
  vault = await startVault(ctx, vaultEnv(ctx, { TOKEN_MASTER_KEY: newKey() }));
  await vault.app.listen({ host: '127.0.0.1', port: 0 });
  const address = vault.app.server.address();
  if (!address || typeof address === 'string') throw new Error('vault is not listening');
  baseUrl = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  for (const c of clients) await c.close();
  for (const c of connections) c.disconnect();
  await vault?.close();
});

describe('@wapi/vault-client against a real vault', () => {
  it('serves a repeated read from its cache without calling vault', async () => {
    const { client: gateway } = await client('gateway');
    const { client: sender } = await client('message-sender');
    const value = token();
    await gateway.put('ws_cache', 'meta.access_token', 'waba_1', value);
    expect(await sender.get('ws_cache', 'meta.access_token', 'waba_1')).toBe(value);
    expect(await sender.get('ws_cache', 'meta.access_token', 'waba_1')).toBe(value);
    expect(await readsAt('ws_cache')).toBe(1);
  });

  it('never serves a rotated value once the rotation is acknowledged, on any instance', async () => {
    const { client: gateway } = await client('gateway');
    const senders = [(await client('message-sender')).client, (await client('message-sender')).client];
    let value = token();
    await gateway.put('ws_rot', 'meta.access_token', 'waba_1', value);
    for (let round = 0; round < 30; round++) {
      for (const sender of senders)
        expect(await sender.get('ws_rot', 'meta.access_token', 'waba_1')).toBe(value);
      value = token();
      await gateway.rotate('ws_rot', 'meta.access_token', 'waba_1', value);
      for (const sender of senders)
        expect(await sender.get('ws_rot', 'meta.access_token', 'waba_1'), `round ${round}`).toBe(value);
    }
  });

  it('drops a deleted secret at once: the next read is 404 VAULT_SECRET_NOT_FOUND', async () => {
    const { client: gateway } = await client('gateway');
    const { client: sender } = await client('message-sender');
    await gateway.put('ws_gone', 'meta.access_token', 'waba_1', token());
    await sender.get('ws_gone', 'meta.access_token', 'waba_1');
    expect(await gateway.delete('ws_gone', 'meta.access_token', 'waba_1')).toBe(true);
    const error = await sender.get('ws_gone', 'meta.access_token', 'waba_1').catch((e: unknown) => e);
    expect(isAppError(error) && error.code).toBe('VAULT_SECRET_NOT_FOUND');
  });

  it('reads again after its TTL', async () => {
    let clock = 1_000_000;
    const { client: gateway } = await client('gateway');
    const { client: sender } = await client('message-sender', { cacheTtlMs: 5_000, now: () => clock });
    await gateway.put('ws_ttl', 'meta.access_token', 'waba_1', token());
    await sender.get('ws_ttl', 'meta.access_token', 'waba_1');
    clock += 4_999;
    await sender.get('ws_ttl', 'meta.access_token', 'waba_1');
    expect(await readsAt('ws_ttl')).toBe(1);
    clock += 2;
    await sender.get('ws_ttl', 'meta.access_token', 'waba_1');
    expect(await readsAt('ws_ttl')).toBe(2);
  });

  it('stops caching while it cannot hear about changes, and without a subscriber at all', async () => {
    const { client: gateway } = await client('gateway');
    const { client: sender, subscriber } = await client('message-sender');
    await gateway.put('ws_deaf', 'meta.access_token', 'waba_1', token());
    await sender.get('ws_deaf', 'meta.access_token', 'waba_1');
    subscriber!.disconnect();
    await waitFor(() => subscriber!.status === 'end', { what: 'the subscriber to close' });
    await sender.get('ws_deaf', 'meta.access_token', 'waba_1');
    await sender.get('ws_deaf', 'meta.access_token', 'waba_1');
    expect(await readsAt('ws_deaf')).toBe(3);

    const { client: uncached } = await client('message-sender', { subscribe: false });
    await uncached.get('ws_deaf', 'meta.access_token', 'waba_1');
    await uncached.get('ws_deaf', 'meta.access_token', 'waba_1');
    expect(await readsAt('ws_deaf')).toBe(5);
  });

  it("throws vault's catalogue error for a refused purpose", async () => {
    const { client: sender } = await client('message-sender');
    const error = await sender.get('ws_x', 'meta.app_secret', 'app_1').catch((e: unknown) => e);
    expect(isAppError(error) && error.code).toBe('VAULT_ACCESS_DENIED');
  });

  it('throws DEPENDENCY_UNAVAILABLE when vault does not answer', async () => {
    const down = createVaultClient({
      baseUrl: 'http://127.0.0.1:1',
      auth: authOf('gateway'),
      prefix: ctx.prefix,
    });
    const error = await down.get('ws_x', 'meta.access_token', 'w').catch((e: unknown) => e);
    expect(isAppError(error) && error.code).toBe('DEPENDENCY_UNAVAILABLE');
  });
});
