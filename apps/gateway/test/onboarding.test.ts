import { createHash } from 'node:crypto';
import { directoryKey, keyOf } from '@wapi/contracts';
import { type MetaSandbox, sandboxFixture, startMetaSandbox, useTestContext, waitFor } from '@wapi/testkit';
import { createVaultClient } from '@wapi/vault-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayEnv, type Harness, startGateway, startVault } from './harness';

const ctx = useTestContext('gwonb');
const fixture = sandboxFixture({ appId: '100000000000077', appSecret: 'onboarding-app-secret-1' });
let sandbox: MetaSandbox;
let vault: Awaited<ReturnType<typeof startVault>>;
let gw: Harness;
let vaultClient: ReturnType<typeof createVaultClient>;

beforeAll(async () => {
  sandbox = await startMetaSandbox({ redisUrl: ctx.infra.redisUrl, seed: fixture.seed });
  vault = await startVault(ctx);
  gw = await startGateway(
    ctx,
    gatewayEnv(ctx, {
      VAULT_URL: vault.url,
      GRAPH_BASE_URL: sandbox.baseUrl,
      META_APP_ID: fixture.appId,
      META_ESB_CONFIG_ID: 'esb_config_1',
    }),
  );
  // The operator's one-time set-up: the app secret in vault, under the platform workspace.
  vaultClient = createVaultClient({
    baseUrl: vault.url,
    auth: gw.app.internalAuth!,
    prefix: ctx.prefix,
    cacheTtlMs: 0,
  });
  await vaultClient.put('platform', 'meta.app_secret', fixture.appId, fixture.appSecret);
}, 60_000);
afterAll(async () => {
  await vaultClient?.close();
  await gw?.close();
  await vault?.stop();
  await sandbox?.stop();
});

let numberSeq = 0;
/** A new WABA (no app subscribed yet) with one unregistered number, in the sandbox. */
async function customerNumber(options: { pin?: string } = {}) {
  numberSeq += 1;
  const waba = await sandbox.control.request<{ id: string }>('POST', '/wabas', {
    name: `Customer ${numberSeq}`,
  });
  const display = `1555010${String(1000 + numberSeq)}`;
  const number = await sandbox.control.request<{ id: string }>('POST', '/phone-numbers', {
    wabaId: waba.id,
    display,
    verifiedName: `Customer ${numberSeq}`,
    registered: false,
    qualityRating: 'GREEN',
    messagingLimit: 'TIER_2K',
    throughputMps: 1_000,
    ...(options.pin ? { pin: options.pin } : {}),
  });
  return { wabaId: waba.id, phoneNumberId: number.id, display };
}

const start = async (token: string) => {
  const answer = await gw.call('POST', '/api/v1/onboarding/esb/start', { token });
  expect(answer.statusCode, answer.body).toBe(200);
  return answer.json() as { appId: string; configId: string; state: string; expiresAt: string };
};

describe('Embedded Signup', () => {
  it('connects a number: code exchanged, token in vault, app subscribed, number registered, metadata fetched, directory published', async () => {
    const owner = await gw.signup('esb');
    const token = owner.tokens.accessToken;
    const ws = owner.workspace.id;
    const started = await start(token);
    expect(started).toMatchObject({ appId: fixture.appId, configId: 'esb_config_1' });
    expect(Date.parse(started.expiresAt)).toBeGreaterThan(Date.now());
    const number = await customerNumber();
    const { code } = await sandbox.control.mintOAuthCode({ wabaIds: [number.wabaId] });
    // The portfolio from the flow's WA_EMBEDDED_SIGNUP event: digits, like every Meta id. A
    // malformed one is refused before the state is spent.
    const businessId = '7700000000000123';
    const body = {
      state: started.state,
      code,
      wabaId: number.wabaId,
      phoneNumberId: number.phoneNumberId,
      pin: '246810',
    };
    const malformed = await gw.call('POST', '/api/v1/onboarding/esb/callback', {
      token,
      body: { ...body, businessId: 'portfolio-1' },
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe('VALIDATION_FAILED');

    const done = await gw.call('POST', '/api/v1/onboarding/esb/callback', {
      token,
      body: { ...body, businessId },
    });
    expect(done.statusCode, done.body).toBe(200);
    const status = done.json();
    expect(status.completed).toBe(true);
    for (const step of ['tokenExchanged', 'webhooksSubscribed', 'phoneRegistered', 'metadataFetched'])
      expect(status.steps[step], step).toMatchObject({ status: 'succeeded', error: null, attempts: 1 });
    expect(Date.parse(status.steps.metadataFetched.at)).toBeGreaterThan(0);

    // The business token is in vault (never in the answer), and it is a real one for that WABA.
    expect(done.body).not.toContain('EAA');
    const businessToken = await vaultClient.get(ws, 'meta.access_token', number.phoneNumberId);
    const graph = (path: string) =>
      fetch(`${sandbox.graphUrl()}/${path}`, { headers: { authorization: `Bearer ${businessToken}` } }).then(
        (r) => r.json() as Promise<Record<string, unknown>>,
      );
    const subscribed = (await graph(`${number.wabaId}/subscribed_apps`)) as {
      data: { whatsapp_business_api_data: { id: string } }[];
    };
    expect(subscribed.data.map((d) => d.whatsapp_business_api_data.id)).toContain(fixture.appId);
    expect((await graph(`${number.phoneNumberId}?fields=status`)).status).toBe('CONNECTED');

    const record = await gw.call('GET', `/api/v1/phone-numbers/${number.phoneNumberId}`, { token });
    expect(record.json()).toMatchObject({
      phoneNumberId: number.phoneNumberId,
      wabaId: number.wabaId,
      displayPhoneNumber: number.display,
      qualityRating: 'GREEN',
      messagingLimitTier: 'TIER_2K',
      throughputMps: 1_000,
      businessId,
    });
    expect(
      JSON.parse((await ctx.redis.get(directoryKey(ctx.prefix, number.phoneNumberId))) ?? 'null'),
    ).toEqual({
      phoneNumberId: number.phoneNumberId,
      workspaceId: ws,
      wabaId: number.wabaId,
      businessId,
      throughputMps: 1_000,
      messagingLimit: 2_000,
    });
    const progress = await gw.call('GET', '/api/v1/onboarding/esb', { token });
    expect(progress.json().completed).toBe(true);

    const replay = await gw.call('POST', '/api/v1/onboarding/esb/callback', {
      token,
      body: { state: started.state, code, wabaId: number.wabaId, phoneNumberId: number.phoneNumberId },
    });
    expect(replay.statusCode).toBe(400);
    expect(replay.json().error.code).toBe('ONBOARDING_STATE_INVALID');
  });

  it('refuses a state issued to another workspace or another user of the same workspace, without spending it', async () => {
    const a = await gw.signup('esba');
    const b = await gw.signup('esbb');
    const colleague = await gw.signup('esbc');
    await gw.call('POST', '/api/v1/members', {
      token: a.tokens.accessToken,
      body: { email: colleague.user.email, role: 'owner' },
    });
    const colleagueToken = (
      await gw.call('POST', '/api/v1/auth/login', {
        body: { email: colleague.user.email, password: colleague.password, workspaceId: a.workspace.id },
      })
    ).json().accessToken as string;
    const { state } = await start(a.tokens.accessToken);
    const number = await customerNumber();
    const body = (code: string) => ({
      state,
      code,
      wabaId: number.wabaId,
      phoneNumberId: number.phoneNumberId,
      pin: '135790',
    });
    for (const foreign of [b.tokens.accessToken, colleagueToken]) {
      const refused = await gw.call('POST', '/api/v1/onboarding/esb/callback', {
        token: foreign,
        body: body('x'),
      });
      expect(refused.statusCode).toBe(400);
      expect(refused.json().error.code).toBe('ONBOARDING_STATE_INVALID');
      expect(refused.json().error.message).toContain('another user or workspace');
    }
    // Still usable by the one it was issued to.
    const { code } = await sandbox.control.mintOAuthCode({ wabaIds: [number.wabaId] });
    const own = await gw.call('POST', '/api/v1/onboarding/esb/callback', {
      token: a.tokens.accessToken,
      body: body(code),
    });
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json().completed).toBe(true);
  });

  it('refuses an expired state', async () => {
    const owner = await gw.signup('esbexp');
    const { state } = await start(owner.tokens.accessToken);
    const key = keyOf(
      ctx.prefix,
      'gw-onboarding',
      'state',
      createHash('sha256').update(state).digest('base64url'),
    );
    const ttl = await ctx.redis.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(15 * 60);
    // Let Redis expire it now rather than in 15 minutes.
    await ctx.redis.pexpire(key, 1);
    await waitFor(async () => (await ctx.redis.exists(key)) === 0, { what: 'the state to expire' });
    const number = await customerNumber();
    const answer = await gw.call('POST', '/api/v1/onboarding/esb/callback', {
      token: owner.tokens.accessToken,
      body: { state, code: 'c', wabaId: number.wabaId, phoneNumberId: number.phoneNumberId },
    });
    expect(answer.json().error.code).toBe('ONBOARDING_STATE_INVALID');
  });

  it('records a failed step (a wrong PIN) and retries that step alone', async () => {
    const owner = await gw.signup('esbretry');
    const token = owner.tokens.accessToken;
    const { state } = await start(token);
    // The number already has two-step verification on with this PIN: another one is refused (133005).
    const number = await customerNumber({ pin: '654321' });
    const { code } = await sandbox.control.mintOAuthCode({ wabaIds: [number.wabaId] });
    const first = await gw.call('POST', '/api/v1/onboarding/esb/callback', {
      token,
      body: { state, code, wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, pin: '111111' },
    });
    expect(first.statusCode, first.body).toBe(200);
    const before = first.json();
    expect(before.completed).toBe(false);
    expect(before.steps.phoneRegistered).toMatchObject({ status: 'failed', attempts: 1 });
    expect(before.steps.phoneRegistered.error).toContain('133005');
    for (const step of ['tokenExchanged', 'webhooksSubscribed', 'metadataFetched'])
      expect(before.steps[step].status, step).toBe('succeeded');

    const noPin = await gw.call('POST', '/api/v1/onboarding/esb/retry', { token, body: {} });
    expect(noPin.json().steps.phoneRegistered).toMatchObject({ status: 'failed', attempts: 2 });
    expect(noPin.json().steps.phoneRegistered.error).toContain('PIN');

    const retried = await gw.call('POST', '/api/v1/onboarding/esb/retry', { token, body: { pin: '654321' } });
    expect(retried.statusCode, retried.body).toBe(200);
    const after = retried.json();
    expect(after.completed).toBe(true);
    expect(after.steps.phoneRegistered).toMatchObject({ status: 'succeeded', error: null, attempts: 3 });
    // The steps that had succeeded did not run again (the code, single-use, was not re-exchanged).
    for (const step of ['tokenExchanged', 'webhooksSubscribed', 'metadataFetched'])
      expect(after.steps[step], step).toEqual(before.steps[step]);
  });

  it('keeps the other steps pending when the code exchange fails, and completes on a retry with a new code', async () => {
    const owner = await gw.signup('esbcode');
    const token = owner.tokens.accessToken;
    const { state } = await start(token);
    const number = await customerNumber();
    const first = await gw.call('POST', '/api/v1/onboarding/esb/callback', {
      token,
      body: {
        state,
        code: 'not-a-code-meta-issued',
        wabaId: number.wabaId,
        phoneNumberId: number.phoneNumberId,
        pin: '112233',
      },
    });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json().steps.tokenExchanged).toMatchObject({ status: 'failed', attempts: 1 });
    expect(first.json().steps.tokenExchanged.error).toContain('#100');
    for (const step of ['webhooksSubscribed', 'phoneRegistered', 'metadataFetched'])
      expect(first.json().steps[step], step).toMatchObject({ status: 'pending', attempts: 0 });
    const { code } = await sandbox.control.mintOAuthCode({ wabaIds: [number.wabaId] });
    const retried = await gw.call('POST', '/api/v1/onboarding/esb/retry', {
      token,
      body: { code, pin: '112233' },
    });
    expect(retried.json().completed).toBe(true);
    expect(retried.json().steps.tokenExchanged).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('answers 503 ONBOARDING_NOT_CONFIGURED without META_APP_ID, and 404 for a retry with nothing started', async () => {
    const bare = await startGateway(
      ctx,
      gatewayEnv(ctx, { VAULT_URL: vault.url, GRAPH_BASE_URL: sandbox.baseUrl }),
    );
    try {
      const owner = await bare.signup('esbnone');
      const answer = await bare.call('POST', '/api/v1/onboarding/esb/start', {
        token: owner.tokens.accessToken,
      });
      expect(answer.statusCode).toBe(503);
      expect(answer.json().error.code).toBe('ONBOARDING_NOT_CONFIGURED');
      expect(answer.json().error.message).toContain('META_APP_ID');
    } finally {
      await bare.close();
    }
    const owner = await gw.signup('esbnothing');
    const retry = await gw.call('POST', '/api/v1/onboarding/esb/retry', {
      token: owner.tokens.accessToken,
      body: {},
    });
    expect(retry.statusCode).toBe(404);
  });
});
