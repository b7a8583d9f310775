import { createSigner } from 'fast-jwt';
import { describe, expect, it } from 'vitest';
import { createInternalAuth } from './internal-auth';
import { createService } from './service';

const secret = 'internal-secret-for-tests-0123456789';

function vaultApp(allowedCallers?: string[]) {
  const app = createService({
    service: 'vault',
    version: '0',
    logLevel: 'silent',
    readinessTimeoutMs: 100,
    checks: [],
  });
  const auth = createInternalAuth({
    service: 'vault',
    secret,
    ...(allowedCallers ? { allowedCallers } : {}),
  });
  app.register(async (scope) => {
    scope.addHook('onRequest', auth.require);
    scope.get('/internal/ping', async (request) => ({ pong: true, caller: request.caller }));
  });
  return app;
}

describe('internal service authentication', () => {
  const gateway = createInternalAuth({ service: 'gateway', secret });

  it('accepts a fresh token addressed to this service', async () => {
    const app = vaultApp();
    const res = await app.inject({
      method: 'GET',
      url: '/internal/ping',
      headers: { authorization: gateway.headerFor('vault') },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ pong: true, caller: 'gateway' });
  });

  it('answers 401 INTERNAL_AUTH_REQUIRED without a token', async () => {
    const res = await vaultApp().inject({ method: 'GET', url: '/internal/ping' });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('INTERNAL_AUTH_REQUIRED');
  });

  it('answers 401 INTERNAL_AUTH_INVALID for a token addressed to another service', async () => {
    const res = await vaultApp().inject({
      method: 'GET',
      url: '/internal/ping',
      headers: { authorization: gateway.headerFor('compliance') },
    });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('INTERNAL_AUTH_INVALID');
  });

  it('answers 401 INTERNAL_AUTH_INVALID for an expired token', async () => {
    const twoMinutesAgo = Date.now() - 120_000;
    const stale = createInternalAuth({ service: 'gateway', secret, now: () => twoMinutesAgo });
    const res = await vaultApp().inject({
      method: 'GET',
      url: '/internal/ping',
      headers: { authorization: stale.headerFor('vault') },
    });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('INTERNAL_AUTH_INVALID');
  });

  it('answers 401 INTERNAL_AUTH_INVALID for a token signed with another key or malformed', async () => {
    const forger = createInternalAuth({ service: 'gateway', secret: 'another-secret-0123456789abcdefghij' });
    const app = vaultApp();
    for (const authorization of [forger.headerFor('vault'), 'Bearer not-a-jwt', 'Basic dXNlcjpwYXNz']) {
      const res = await app.inject({ method: 'GET', url: '/internal/ping', headers: { authorization } });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('INTERNAL_AUTH_INVALID');
    }
  });

  it('answers 401 INTERNAL_AUTH_INVALID to a service that is not an allowed caller', async () => {
    const app = vaultApp(['gateway', 'message-sender']);
    const compliance = createInternalAuth({ service: 'compliance', secret });
    const refused = await app.inject({
      method: 'GET',
      url: '/internal/ping',
      headers: { authorization: compliance.headerFor('vault') },
    });
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error.code).toBe('INTERNAL_AUTH_INVALID');
    const allowed = await app.inject({
      method: 'GET',
      url: '/internal/ping',
      headers: { authorization: gateway.headerFor('vault') },
    });
    expect(allowed.statusCode).toBe(200);
  });

  it('answers 401 INTERNAL_AUTH_INVALID to a token minted with a long life', async () => {
    const longLived = createSigner({
      key: secret,
      algorithm: 'HS256',
      aud: 'vault',
      iss: 'gateway',
      expiresIn: 3_600_000,
    })({});
    const res = await vaultApp().inject({
      method: 'GET',
      url: '/internal/ping',
      headers: { authorization: `Bearer ${longLived}` },
    });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('INTERNAL_AUTH_INVALID');
  });
});
