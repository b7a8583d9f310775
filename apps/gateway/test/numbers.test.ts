import {
  type AccountUpdateV1,
  type AuditV1,
  directoryKey,
  keyOf,
  queuePrefix,
  wabaDirectoryKey,
} from '@wapi/contracts';
import { createMetaClient } from '@wapi/meta-client';
import { createLogger, createProducer, jobIdOf } from '@wapi/service-kit';
import { type MetaSandbox, sandboxFixture, startMetaSandbox, useTestContext, waitFor } from '@wapi/testkit';
import { createVaultClient } from '@wapi/vault-client';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phoneDirectory } from '../src/messaging/directory';
import { messagingRepositories } from '../src/messaging/repositories';
import { applyNumberUpdate } from '../src/numbers/health';
import { type SyncReport, startNumberSync } from '../src/numbers/sync';
import { messagingLimitOf, throughputOf } from '../src/numbers/tiers';
import { createNumberHealth } from '../src/numbers/wiring';
import { gatewayEnv, type Harness, serviceToken, startGateway, startVault } from './harness';

const ctx = useTestContext('gwnum');
const fixture = sandboxFixture({ appId: '100000000000088' });
let sandbox: MetaSandbox;
let vault: Awaited<ReturnType<typeof startVault>>;
let gw: Harness;
let health: ReturnType<typeof createNumberHealth>;
const log = createLogger('gateway-test', 'silent');

beforeAll(async () => {
  sandbox = await startMetaSandbox({ redisUrl: ctx.infra.redisUrl, seed: fixture.seed });
  vault = await startVault(ctx);
  gw = await startGateway(ctx, gatewayEnv(ctx, { VAULT_URL: vault.url, GRAPH_BASE_URL: sandbox.baseUrl }));
  // The same deps the gateway hands the account.update.v1 worker (app.ts).
  health = createNumberHealth({
    db: ctx.db,
    redis: ctx.redis,
    prefix: ctx.prefix,
    directory: phoneDirectory(ctx.redis, ctx.prefix, messagingRepositories(ctx.db)),
    log,
    now: () => new Date(),
  });
}, 60_000);
afterAll(async () => {
  await health?.close();
  await gw?.close();
  await vault?.stop();
  await sandbox?.stop();
});

let seq = 0;
/** A number in the sandbox (on the fixture's WABA) connected to a new workspace through the API. */
async function connectedNumber(sandboxFacts: Record<string, unknown> = {}) {
  seq += 1;
  const owner = await gw.signup('num');
  const display = `1555020${String(1000 + seq)}`;
  const number = await sandbox.control.request<{ id: string }>('POST', '/phone-numbers', {
    wabaId: fixture.wabaId,
    display,
    ...sandboxFacts,
  });
  const connected = await gw.call('POST', '/api/v1/phone-numbers', {
    token: owner.tokens.accessToken,
    body: {
      phoneNumberId: number.id,
      wabaId: fixture.wabaId,
      displayPhoneNumber: display,
      accessToken: fixture.accessToken,
    },
  });
  expect(connected.statusCode, connected.body).toBe(201);
  return {
    owner,
    token: owner.tokens.accessToken,
    ws: owner.workspace.id,
    phoneNumberId: number.id,
    display,
  };
}

const update = (ws: string, change: AccountUpdateV1['change'], occurredAt = new Date()): AccountUpdateV1 => ({
  workspaceId: ws,
  wabaId: fixture.wabaId,
  occurredAt: occurredAt.toISOString(),
  change,
});
const entry = async (id: string) => JSON.parse((await ctx.redis.get(directoryKey(ctx.prefix, id))) ?? 'null');

async function auditEvents(): Promise<AuditV1[]> {
  const connection = new Redis(ctx.infra.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue<AuditV1>('audit.v1', { connection, prefix: queuePrefix(ctx.prefix, 'audit.v1') });
  try {
    return (await queue.getJobs(['waiting', 'delayed', 'paused', 'prioritized'], 0, -1)).map((j) => j.data);
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

describe('the tier and throughput table', () => {
  it('maps every tier and level Meta names, and leaves unknown ones unknown', () => {
    expect(messagingLimitOf('TIER_2K')).toBe(2_000);
    expect(messagingLimitOf('TIER_UNLIMITED')).toBeNull();
    expect(messagingLimitOf('TIER_NOT_SET')).toBeUndefined();
    // Older webhooks and Graph fields name the tier without the prefix.
    expect(messagingLimitOf('10K')).toBe(10_000);
    expect(throughputOf('HIGH')).toBe(1_000);
    expect(throughputOf('MYSTERY')).toBeUndefined();
  });
});

describe('applyNumberUpdate (account.update.v1: phone_quality, account, capability)', () => {
  it('records and audits a quality drop once, lowers the limit, and publishes it for the sender', async () => {
    const n = await connectedNumber();
    const flagged = update(n.ws, {
      kind: 'phone_quality',
      phoneNumberId: n.phoneNumberId,
      displayPhoneNumber: n.display,
      event: 'FLAGGED',
      currentLimit: 'TIER_250',
    });
    await applyNumberUpdate(health.deps, flagged);
    // A redelivery changes nothing more.
    await applyNumberUpdate(health.deps, flagged);
    const record = (
      await gw.call('GET', `/api/v1/phone-numbers/${n.phoneNumberId}`, { token: n.token })
    ).json();
    expect(record).toMatchObject({ qualityRating: 'RED', messagingLimitTier: 'TIER_250', throughputMps: 80 });
    expect(await entry(n.phoneNumberId)).toMatchObject({ workspaceId: n.ws, messagingLimit: 250 });
    const drops = await ctx.db
      .collection('number_quality_events')
      .find({ phoneNumberId: n.phoneNumberId })
      .toArray();
    expect(drops).toHaveLength(1);
    expect(drops[0]).toMatchObject({ kind: 'quality_drop', to: 'RED', source: 'webhook' });
    const audited = (await auditEvents()).filter(
      (e) => e.target.type === 'phone_number' && e.target.id === n.phoneNumberId,
    );
    expect(audited).toHaveLength(1);
    expect(audited[0]).toMatchObject({
      workspaceId: n.ws,
      action: 'phone_number.quality_dropped',
      actor: { type: 'system', id: 'meta-webhook' },
      after: { value: 'RED' },
    });
  });

  it('follows the throughput upgrade and a number named only by its display number', async () => {
    const n = await connectedNumber();
    await applyNumberUpdate(
      health.deps,
      update(n.ws, {
        kind: 'phone_quality',
        displayPhoneNumber: `+${n.display}`,
        event: 'THROUGHPUT_UPGRADE',
      }),
    );
    expect(
      (await gw.call('GET', `/api/v1/phone-numbers/${n.phoneNumberId}`, { token: n.token })).json(),
    ).toMatchObject({
      throughputMps: 1_000,
    });
    expect(await entry(n.phoneNumberId)).toMatchObject({ throughputMps: 1_000 });
  });

  it('applies a capability update to every number of the WABA in the workspace, and records an account event', async () => {
    const n = await connectedNumber();
    await applyNumberUpdate(
      health.deps,
      update(n.ws, { kind: 'capability', maxDailyConversationsPerBusiness: 'TIER_UNLIMITED' }),
    );
    expect(await entry(n.phoneNumberId)).toMatchObject({ messagingLimit: null });
    await applyNumberUpdate(
      health.deps,
      update(n.ws, { kind: 'account', event: 'DISABLED_UPDATE', banState: 'DISABLE' }),
    );
    const doc = await ctx.db.collection('phone_numbers').findOne({ _id: n.phoneNumberId as never });
    expect(doc?.accountStatus).toMatchObject({ event: 'DISABLED_UPDATE', banState: 'DISABLE' });
    // Another workspace's update never touches this number.
    const other = await gw.signup('numother');
    await applyNumberUpdate(
      health.deps,
      update(other.workspace.id, { kind: 'capability', maxDailyConversationsPerBusiness: 'TIER_50' }),
    );
    expect(await entry(n.phoneNumberId)).toMatchObject({ messagingLimit: null });
  });

  it("records the owning portfolio an account event names, so the sender counts the portfolio's limit", async () => {
    const n = await connectedNumber();
    expect(await entry(n.phoneNumberId)).not.toHaveProperty('businessId');
    await applyNumberUpdate(
      health.deps,
      update(n.ws, { kind: 'account', event: 'PARTNER_ADDED', businessId: '9876543210' }),
    );
    expect(await entry(n.phoneNumberId)).toMatchObject({ businessId: '9876543210' });
    // An event without one keeps what is known.
    await applyNumberUpdate(health.deps, update(n.ws, { kind: 'account', event: 'ACCOUNT_VIOLATION' }));
    expect(await entry(n.phoneNumberId)).toMatchObject({ businessId: '9876543210' });
  });
});

describe('the periodic number sync', () => {
  it('reads name, quality, limit tier and throughput from Graph on one instance, and records a drop', async () => {
    const n = await connectedNumber({
      verifiedName: 'Synced Shrub',
      qualityRating: 'RED',
      messagingLimit: 'TIER_10K',
      throughputMps: 1_000,
    });
    // What we knew before: GREEN, so the sync's RED is a drop.
    await ctx.db
      .collection('phone_numbers')
      .updateOne({ _id: n.phoneNumberId as never }, { $set: { qualityRating: 'GREEN' } });
    const meta = createMetaClient({ baseUrl: sandbox.baseUrl, version: 'v23.0' });
    const vaultClient = createVaultClient({
      baseUrl: vault.url,
      auth: gw.app.internalAuth!,
      prefix: ctx.prefix,
      cacheTtlMs: 0,
    });
    const reports: SyncReport[] = [];
    const instance = () =>
      startNumberSync({
        ...health.deps,
        meta,
        vault: vaultClient,
        log,
        redis: ctx.redis,
        prefix: ctx.prefix,
        intervalMs: 60_000,
        onSynced: (r) => reports.push(r),
      });
    // Two instances start at once; the lock lets one of them sync this round.
    const [a, b] = [instance(), instance()];
    await Promise.all([a.stop(), b.stop()]);
    meta.close();
    await vaultClient.close();
    expect(reports).toHaveLength(1);
    expect(reports[0]!.synced).toBeGreaterThanOrEqual(1);

    expect(
      (await gw.call('GET', `/api/v1/phone-numbers/${n.phoneNumberId}`, { token: n.token })).json(),
    ).toMatchObject({
      verifiedName: 'Synced Shrub',
      qualityRating: 'RED',
      messagingLimitTier: 'TIER_10K',
      throughputMps: 1_000,
    });
    expect(await entry(n.phoneNumberId)).toMatchObject({ throughputMps: 1_000, messagingLimit: 10_000 });
    const drops = await ctx.db
      .collection('number_quality_events')
      .find({ phoneNumberId: n.phoneNumberId })
      .toArray();
    expect(drops).toMatchObject([{ kind: 'quality_drop', from: 'GREEN', to: 'RED', source: 'sync' }]);
  });

  it('is applied from account.update.v1 by the gateway that runs the workers', async () => {
    const n = await connectedNumber();
    const worker = await startGateway(
      ctx,
      gatewayEnv(ctx, {
        VAULT_URL: vault.url,
        GRAPH_BASE_URL: sandbox.baseUrl,
        NUMBER_SYNC_INTERVAL_MS: '0',
      }),
      undefined,
      ctx.infra.redisUrl,
      true,
    );
    const producer = createProducer('account.update.v1', { connection: ctx.redis, prefix: ctx.prefix, log });
    try {
      await producer.add(
        update(n.ws, {
          kind: 'phone_quality',
          phoneNumberId: n.phoneNumberId,
          displayPhoneNumber: n.display,
          event: 'UPGRADE',
          currentLimit: 'TIER_100K',
        }),
        { jobId: jobIdOf('test', n.phoneNumberId) },
      );
      await waitFor(async () => (await entry(n.phoneNumberId))?.messagingLimit === 100_000, {
        timeoutMs: 15_000,
        what: 'the account.update.v1 worker to apply the new limit',
      });
      expect(
        (await gw.call('GET', `/api/v1/phone-numbers/${n.phoneNumberId}`, { token: n.token })).json(),
      ).toMatchObject({
        messagingLimitTier: 'TIER_100K',
      });
    } finally {
      await producer.close();
      await worker.close();
    }
  });

  it('runs inside the gateway that runs the workers', async () => {
    const n = await connectedNumber({ verifiedName: 'Worker Shrub', messagingLimit: 'TIER_100K' });
    // The previous test's round still holds this interval's lock.
    await ctx.redis.del(keyOf(ctx.prefix, 'gw-number-sync', 'lock'));
    const worker = await startGateway(
      ctx,
      gatewayEnv(ctx, {
        VAULT_URL: vault.url,
        GRAPH_BASE_URL: sandbox.baseUrl,
        NUMBER_SYNC_INTERVAL_MS: '60000',
      }),
      undefined,
      ctx.infra.redisUrl,
      true,
    );
    try {
      await waitFor(
        async () =>
          (await gw.call('GET', `/api/v1/phone-numbers/${n.phoneNumberId}`, { token: n.token })).json()
            .verifiedName === 'Worker Shrub',
        { timeoutMs: 15_000, what: 'the gateway’s number sync to read the number from Graph' },
      );
    } finally {
      await worker.close();
    }
  });
});

describe('the WABA directory (management webhooks name only the WABA)', () => {
  it('is published on connect, served from the database on a Redis miss to webhook-ingest only, and follows the latest connection', async () => {
    const wabaId = `7${Date.now()}`;
    const connect = async (prefix: string, phoneNumberId: string) => {
      const owner = await gw.signup(prefix);
      const answer = await gw.call('POST', '/api/v1/phone-numbers', {
        token: owner.tokens.accessToken,
        body: {
          phoneNumberId,
          wabaId,
          displayPhoneNumber: `+${phoneNumberId}`,
          accessToken: fixture.accessToken,
        },
      });
      expect(answer.statusCode, answer.body).toBe(201);
      return owner.workspace.id;
    };
    const first = await connect('wda', `8${Date.now()}1`);
    const key = wabaDirectoryKey(ctx.prefix, wabaId);
    expect(JSON.parse((await ctx.redis.get(key)) ?? 'null')).toEqual({ wabaId, workspaceId: first });

    const internal = (id: string, authorization?: string) =>
      gw.app.inject({
        method: 'GET',
        url: `/internal/v1/directory/waba/${id}`,
        headers: authorization ? { authorization } : {},
      });
    await ctx.redis.del(key);
    const missed = await internal(wabaId, serviceToken('webhook-ingest'));
    expect(missed.statusCode, missed.body).toBe(200);
    expect(missed.json()).toEqual({ wabaId, workspaceId: first });
    expect(await ctx.redis.get(key)).not.toBeNull();

    const second = await connect('wdb', `8${Date.now()}2`);
    expect(JSON.parse((await ctx.redis.get(key)) ?? 'null')).toEqual({ wabaId, workspaceId: second });
    await ctx.redis.del(key);
    expect((await internal(wabaId, serviceToken('webhook-ingest'))).json()).toEqual({
      wabaId,
      workspaceId: second,
    });

    expect((await internal('999999999999', serviceToken('webhook-ingest'))).statusCode).toBe(404);
    expect((await internal(wabaId)).statusCode).toBe(401);
    expect((await internal('not-a-waba', serviceToken('webhook-ingest'))).statusCode).toBe(400);
  });
});
