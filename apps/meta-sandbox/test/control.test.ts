import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis } from '@wapi/service-kit';
import { useTestContext } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app';
import { loadServiceConfig } from '../src/config';
import { ADMIN, baseSeed, type Harness, NUMBER_ID, startSandbox, TOKEN } from './harness';

const ctx = useTestContext('sbxctl');
let sbx: Harness;
beforeAll(async () => {
  sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl });
});
afterAll(async () => sbx?.close());

describe('control API /_sandbox', () => {
  it.each([
    ['POST', '/world'],
    ['POST', '/apps'],
    ['POST', '/inbound'],
    ['GET', '/messages'],
    ['GET', '/webhooks'],
    ['PUT', '/faults'],
    ['POST', '/reset'],
  ])('refuses %s %s without the admin token (401) or with a Graph token', async (method, path) => {
    const none = await sbx.control(method, path, method === 'GET' ? undefined : {}, null);
    expect(none.status).toBe(401);
    expect((none.json.error as { code: string }).code).toBe('INTERNAL_AUTH_REQUIRED');
    const graph = await sbx.control(method, path, method === 'GET' ? undefined : {}, TOKEN);
    expect((graph.json.error as { code: string }).code).toBe('INTERNAL_AUTH_INVALID');
  });

  it.each([
    ['/inbound', { phoneNumberId: NUMBER_ID, from: 'abc', messages: [{ kind: 'text' }] }],
    ['/inbound', { phoneNumberId: NUMBER_ID, from: '16505551234', messages: [{ kind: 'fax' }] }],
    ['/inbound', { phoneNumberId: 'nope', from: '16505551234', messages: [{ kind: 'text' }] }],
    ['/phone-numbers', { wabaId: 'nope', display: '15551234567' }],
    ['/tokens', { appId: 'nope' }],
    ['/wabas', { businessId: 'portfolio one' }],
    ['/user-preferences', { phoneNumberId: NUMBER_ID, waId: '16505551234', value: 'maybe' }],
  ])('answers 400 VALIDATION_FAILED for bad input to %s', async (path, body) => {
    const r = await sbx.control('POST', path, body);
    expect(r.status).toBe(400);
    expect((r.json.error as { code: string }).code).toBe('VALIDATION_FAILED');
  });

  it('creates apps, WABAs, numbers and tokens that the Graph surface then serves', async () => {
    const app = await sbx.control('POST', '/apps', { name: 'Another' });
    const waba = await sbx.control('POST', '/wabas', { subscribedApps: [String(app.json.id)] });
    const number = await sbx.control('POST', '/phone-numbers', {
      wabaId: String(waba.json.id),
      display: '+447700900999',
    });
    const token = await sbx.control('POST', '/tokens', {
      appId: String(app.json.id),
      kind: 'business',
      wabaIds: [String(waba.json.id)],
    });
    const r = await sbx.graph('GET', `/${String(number.json.id)}`, undefined, String(token.json.value));
    expect(r.json.display_phone_number).toBe('447700900999');
    // Each WABA belongs to a business portfolio: one of its own unless the caller names one.
    expect(String(waba.json.businessId)).toMatch(/^[0-9]+$/);
    const sibling = await sbx.control('POST', '/wabas', { businessId: '5550001' });
    expect(sibling.json).toMatchObject({ businessId: '5550001' });
  });

  it('resets the world', async () => {
    expect((await sbx.control('POST', '/reset')).json).toEqual({ reset: true });
    expect((await sbx.graph('GET', `/${NUMBER_ID}`)).status).toBe(401);
  });

  it('loads SANDBOX_SEED_FILE at start-up', async () => {
    const file = join(tmpdir(), `sandbox-seed-${process.pid}.json`);
    writeFileSync(file, JSON.stringify(baseSeed()));
    const config = loadServiceConfig({
      REDIS_URL: ctx.infra.redisUrl,
      LOG_LEVEL: 'silent',
      SANDBOX_ADMIN_TOKEN: ADMIN,
      SANDBOX_SEED_FILE: file,
    });
    const redis = createRedis(ctx.infra.redisUrl, 'request', { warn: () => undefined });
    const app = await buildApp({ config, redis });
    try {
      const r = await app.inject({
        url: `/v23.0/${NUMBER_ID}`,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(r.statusCode).toBe(200);
    } finally {
      await app.close();
      redis.disconnect();
    }
  });
});
