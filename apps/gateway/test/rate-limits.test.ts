import { startPrivateRedis, useTestContext, waitFor } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayEnv, type Harness, startGateway } from './harness';

const ctx = useTestContext('gwrl');
let gw: Harness;
const API_LIMIT = 20;
const SEND_LIMIT = 5;

beforeAll(async () => {
  gw = await startGateway(
    ctx,
    gatewayEnv(ctx, {
      API_RATE_FREE: String(API_LIMIT),
      SEND_RATE_FREE: String(SEND_LIMIT),
      SEND_RATE_PRO: '50',
    }),
  );
});
afterAll(() => gw?.close());

// A valid send from a workspace without a number: past every limit the route answers 422
// PHONE_NUMBER_NOT_CONNECTED (a body failing validation would stop before the limits).
const NOT_CONNECTED = 422;
const send = (token: string) =>
  gw.call('POST', '/api/v1/messages', {
    token,
    body: { to: '+919999000001', content: { type: 'text', text: { body: 'hello' } } },
  });

describe('per-workspace rate limits', () => {
  it('answers a spent limit with 429 RATE_LIMITED, Retry-After, X-RateLimit-* and the IETF RateLimit pair', async () => {
    const s = await gw.signup('hdr');
    const token = s.tokens.accessToken;
    const first = await gw.call('GET', '/api/v1/workspace', { token });
    expect(first.statusCode).toBe(200);
    expect(first.headers['x-ratelimit-limit']).toBe(String(API_LIMIT));
    expect(first.headers['x-ratelimit-remaining']).toBe(String(API_LIMIT - 1));
    expect(first.headers['ratelimit-policy']).toBe(`"api";q=${API_LIMIT};w=60`);
    expect(first.headers.ratelimit).toMatch(new RegExp(`^"api";r=${API_LIMIT - 1};t=\\d+$`));
    for (let i = 1; i < API_LIMIT; i++) await gw.call('GET', '/api/v1/workspace', { token });
    const limited = await gw.call('GET', '/api/v1/workspace', { token });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('RATE_LIMITED');
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
    expect(limited.headers['x-ratelimit-reset']).toBe(String(retryAfter));
    expect(limited.headers.ratelimit).toBe(`"api";r=0;t=${retryAfter}`);
    expect(limited.headers['ratelimit-policy']).toBe(`"api";q=${API_LIMIT};w=60`);
  });

  it('keeps a second workspace whole while the first drives its send and API limits at 10x (noisy neighbour)', async () => {
    const noisy = await gw.signup('noisy');
    const quiet = await gw.signup('quiet');
    const noisyAnswers: number[] = [];
    const quietAnswers: number[] = [];
    // Interleaved, so the quiet workspace's calls land while the noisy one is over its limits.
    for (let i = 0; i < SEND_LIMIT * 10; i++) {
      noisyAnswers.push((await send(noisy.tokens.accessToken)).statusCode);
      if (i % 10 === 5) quietAnswers.push((await send(quiet.tokens.accessToken)).statusCode);
    }
    expect(noisyAnswers.filter((s) => s === 429).length).toBeGreaterThanOrEqual(SEND_LIMIT * 9 - 1);
    expect(quietAnswers).toEqual(Array(SEND_LIMIT).fill(NOT_CONNECTED));
    const quietReads: number[] = [];
    for (let i = 0; i < API_LIMIT * 10; i++) {
      await gw.call('GET', '/api/v1/auth/me', { token: noisy.tokens.accessToken });
      if (i % 20 === 10)
        quietReads.push(
          (await gw.call('GET', '/api/v1/auth/me', { token: quiet.tokens.accessToken })).statusCode,
        );
    }
    expect((await gw.call('GET', '/api/v1/auth/me', { token: noisy.tokens.accessToken })).statusCode).toBe(
      429,
    );
    expect(quietReads).toEqual(Array(10).fill(200));
  });

  it('counts sends separately from other calls, by plan and per-workspace override', async () => {
    const s = await gw.signup('plan');
    const token = s.tokens.accessToken;
    for (let i = 0; i < SEND_LIMIT; i++) expect((await send(token)).statusCode).toBe(NOT_CONNECTED);
    const limited = await send(token);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['ratelimit-policy']).toBe(`"send";q=${SEND_LIMIT};w=60`);
    // Other calls have their own budget.
    expect((await gw.call('GET', '/api/v1/members', { token })).statusCode).toBe(200);
    const pro = await gw.call('PATCH', '/api/v1/workspace', { token, body: { plan: 'pro' } });
    expect(pro.json()).toMatchObject({ plan: 'pro', sendsPerMinute: 50 });
    const afterUpgrade = await send(token);
    expect(afterUpgrade.statusCode).toBe(NOT_CONNECTED);
    expect(afterUpgrade.headers['x-ratelimit-limit']).toBe('50');
    const custom = await gw.call('PATCH', '/api/v1/workspace', { token, body: { sendsPerMinute: 7 } });
    expect(custom.json().sendsPerMinute).toBe(7);
    expect((await send(token)).statusCode).toBe(429);
  });

  it('lets only billing:manage change the plan', async () => {
    const owner = await gw.signup('bill');
    const key = await gw.call('POST', '/api/v1/api-keys', {
      token: owner.tokens.accessToken,
      body: { name: 'm', role: 'manager' },
    });
    const answer = await gw.call('PATCH', '/api/v1/workspace', {
      token: key.json().key,
      body: { plan: 'pro' },
    });
    expect(answer.statusCode).toBe(403);
    const rename = await gw.call('PATCH', '/api/v1/workspace', {
      token: key.json().key,
      body: { name: 'renamed' },
    });
    expect(rename.json().name).toBe('renamed');
  });
});

describe('a workspace over its limit is answered cheaply', () => {
  it('refuses before reading or validating the body, and from memory: without Redis, its refusals stay 429 while others get 503', async () => {
    const redis = await startPrivateRedis();
    const g = await startGateway(
      ctx,
      gatewayEnv(ctx, {
        REDIS_URL: redis.url,
        API_RATE_FREE: String(API_LIMIT),
        SEND_RATE_FREE: String(SEND_LIMIT),
      }),
      undefined,
      redis.url,
    );
    try {
      const noisy = await g.signup('spent');
      const other = await g.signup('fine');
      const sendWith = (token: string, body: unknown) => g.call('POST', '/api/v1/messages', { token, body });
      const valid = { to: '+919999000001', content: { type: 'text', text: { body: 'hello' } } };
      for (let i = 0; i < SEND_LIMIT; i++) await sendWith(noisy.tokens.accessToken, valid);
      expect((await sendWith(noisy.tokens.accessToken, valid)).statusCode).toBe(429);
      // A body that would fail validation is not even read once the limit is spent.
      const invalid = await sendWith(noisy.tokens.accessToken, { nonsense: true });
      expect(invalid.statusCode).toBe(429);
      expect(invalid.headers['ratelimit-policy']).toBe(`"send";q=${SEND_LIMIT};w=60`);
      expect(Number(invalid.headers['retry-after'])).toBeGreaterThan(0);
      // Other routes of the spent workspace still work (only the send policy is spent).
      expect((await g.call('GET', '/api/v1/workspace', { token: noisy.tokens.accessToken })).statusCode).toBe(
        200,
      );
      await redis.stop();
      const fromMemory = await sendWith(noisy.tokens.accessToken, valid);
      expect(fromMemory.statusCode).toBe(429);
      expect(fromMemory.json().error.code).toBe('RATE_LIMITED');
      const needsRedis = await sendWith(other.tokens.accessToken, valid);
      expect(needsRedis.statusCode).toBe(503);
    } finally {
      await g.close();
      await redis.dispose();
    }
  });
});

describe('while Redis is down', () => {
  it('answers 503 DEPENDENCY_UNAVAILABLE (retry) instead of 500, and recovers when it is back', async () => {
    const redis = await startPrivateRedis();
    const down = await startGateway(ctx, gatewayEnv(ctx, { REDIS_URL: redis.url }), undefined, redis.url);
    try {
      const s = await down.signup('down');
      const token = s.tokens.accessToken;
      expect((await down.call('GET', '/api/v1/workspace', { token })).statusCode).toBe(200);
      await redis.stop();
      const answer = await down.call('GET', '/api/v1/workspace', { token });
      expect(answer.statusCode).toBe(503);
      expect(answer.json().error.code).toBe('DEPENDENCY_UNAVAILABLE');
      await redis.start();
      await waitFor(async () => (await down.call('GET', '/api/v1/workspace', { token })).statusCode === 200, {
        what: 'the gateway answering again after Redis came back',
      });
    } finally {
      await down.close();
      await redis.dispose();
    }
  });
});
