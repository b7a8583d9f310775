import { type AuditV1, queuePrefix } from '@wapi/contracts';
import { useTestContext } from '@wapi/testkit';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayEnv, type Harness, startGateway } from './harness';

const ctx = useTestContext('gwsurf');
let gw: Harness;
let prod: Harness;

beforeAll(async () => {
  gw = await startGateway(ctx, gatewayEnv(ctx, { CORS_ORIGINS: 'https://console.example.com' }));
  prod = await startGateway(ctx, gatewayEnv(ctx, { NODE_ENV: 'production' }));
});
afterAll(async () => {
  await gw?.close();
  await prod?.close();
});

/** The audit events gateway queued under `ctx`'s prefix so far. */
async function auditEvents(): Promise<AuditV1[]> {
  const connection = new Redis(ctx.infra.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue<AuditV1>('audit.v1', { connection, prefix: queuePrefix(ctx.prefix, 'audit.v1') });
  try {
    return (await queue.getJobs(['waiting', 'delayed', 'paused', 'prioritized'], 0, -1)).map(
      (job) => job.data,
    );
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

describe('API surface', () => {
  it('sends security headers (HSTS, nosniff, frame denial) on API answers', async () => {
    const answer = await gw.call('GET', '/api/v1/auth/me');
    expect(answer.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    expect(answer.headers['x-frame-options']).toBe('SAMEORIGIN');
  });

  it('allows CORS only for configured origins', async () => {
    const preflight = (origin: string) =>
      gw.app.inject({
        method: 'OPTIONS',
        url: '/api/v1/auth/me',
        headers: { origin, 'access-control-request-method': 'GET' },
      });
    const allowed = await preflight('https://console.example.com');
    expect(allowed.headers['access-control-allow-origin']).toBe('https://console.example.com');
    const other = await preflight('https://evil.example.com');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('serves /docs outside production only', async () => {
    expect((await gw.app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
    const hidden = await prod.app.inject({ method: 'GET', url: '/docs/json' });
    expect(hidden.statusCode).toBe(404);
    expect(hidden.json().error.code).toBe('ROUTE_NOT_FOUND');
  });

  it('refuses a wildcard CORS origin in production at start-up, naming the variable', async () => {
    await expect(
      startGateway(ctx, gatewayEnv(ctx, { NODE_ENV: 'production', CORS_ORIGINS: '*' })),
    ).rejects.toThrow(/CORS_ORIGINS/);
  });

  it('answers a body over 256 KiB with 413 PAYLOAD_TOO_LARGE in the catalogue format', async () => {
    const answer = await gw.call('POST', '/api/v1/auth/login', {
      body: { email: 'a@example.com', password: 'x'.repeat(300 * 1024) },
    });
    expect(answer.statusCode).toBe(413);
    expect(answer.json().error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', requestId: expect.any(String) });
  });
});

describe('audit', () => {
  it('queues an audit.v1 event for every mutating call, with actor, target, request id, IP, user agent and outcome, and no secret', async () => {
    const s = await gw.signup('aud');
    const token = s.tokens.accessToken;
    const created = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: {
        authorization: `Bearer ${token}`,
        'user-agent': 'audit-test/1',
        'x-request-id': 'req-audit-1',
      },
      remoteAddress: '10.7.7.7',
      payload: { name: 'ci', role: 'agent' },
    });
    expect(created.statusCode).toBe(201);
    const denied = await gw.call('POST', '/api/v1/messages', {
      token: created.json().key,
      body: { to: '+919999000001', content: { type: 'text', text: { body: 'x' } } },
    });
    // Refused (no number connected yet): audited as a failure of the API key.
    expect(denied.statusCode).toBe(422);
    const events = await auditEvents();
    const create = events.find((e) => e.requestId === 'req-audit-1');
    expect(create).toMatchObject({
      workspaceId: s.workspace.id,
      actor: { type: 'user', id: s.user.id },
      action: 'POST /api/v1/api-keys',
      ip: '10.7.7.7',
      userAgent: 'audit-test/1',
      outcome: 'success',
    });
    expect(events.find((e) => e.actor.type === 'api_key')).toMatchObject({ outcome: 'failure' });
    const all = JSON.stringify(events);
    expect(all).not.toContain(created.json().key);
    expect(all).not.toContain(token);
    expect(all).not.toContain(s.password);
  });

  it('records the client behind a trusted proxy, not the proxy (GATEWAY_TRUST_PROXY)', async () => {
    const behind = await startGateway(ctx, gatewayEnv(ctx, { GATEWAY_TRUST_PROXY: '1' }));
    try {
      const s = await behind.signup('audproxy');
      const created = await behind.app.inject({
        method: 'POST',
        url: '/api/v1/api-keys',
        headers: {
          authorization: `Bearer ${s.tokens.accessToken}`,
          'x-request-id': 'req-audit-proxy',
          'x-forwarded-for': '192.0.2.1, 198.51.100.23',
        },
        remoteAddress: '10.8.0.1',
        payload: { name: 'behind', role: 'agent' },
      });
      expect(created.statusCode).toBe(201);
      await expect
        .poll(async () => (await auditEvents()).find((e) => e.requestId === 'req-audit-proxy')?.ip, {
          timeout: 10_000,
        })
        .toBe('198.51.100.23');
    } finally {
      await behind.close();
    }
  });
});
