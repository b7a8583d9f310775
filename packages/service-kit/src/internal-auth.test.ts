import { createHmac, createPrivateKey, sign } from 'node:crypto';
import fp from 'fastify-plugin';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config';
import {
  createInternalAuth,
  generateServiceKeyPair,
  INTERNAL_TOKEN_TTL_SECONDS,
  InternalAuthConfig,
  internalRoutes,
  parseInternalKeys,
  publicKeyOf,
  registerInternal,
} from './internal-auth';
import { createService } from './service';

const gatewayPair = generateServiceKeyPair();
const compliancePair = generateServiceKeyPair();
const vaultPair = generateServiceKeyPair();

/** The internal auth of `service` with its own key and the given callers' public keys. */
function authOf(
  service: string,
  privateKey: string,
  callers: Record<string, string> = {},
  now?: () => number,
) {
  const keys = parseInternalKeys(service, {
    INTERNAL_AUTH_PRIVATE_KEY: privateKey,
    INTERNAL_AUTH_PUBLIC_KEYS: Object.entries(callers)
      .map(([name, key]) => `${name}=${key}`)
      .join(','),
  });
  return createInternalAuth({ service, keys, ...(now ? { now } : {}) });
}

const gateway = authOf('gateway', gatewayPair.privateKey);
const compliance = authOf('compliance', compliancePair.privateKey);

/** vault, callable by gateway and compliance unless told otherwise. */
function vaultApp(
  callers: Record<string, string> = { gateway: gatewayPair.publicKey, compliance: compliancePair.publicKey },
) {
  const app = createService({
    service: 'vault',
    version: '0',
    logLevel: 'silent',
    readinessTimeoutMs: 100,
    checks: [],
  });
  registerInternal(
    app,
    async (scope) => {
      scope.get('/ping', async (request) => ({ pong: true, caller: request.caller }));
    },
    { auth: authOf('vault', vaultPair.privateKey, callers) },
  );
  return app;
}

async function call(app: ReturnType<typeof vaultApp>, authorization?: string) {
  const res = await app.inject({
    method: 'GET',
    url: '/internal/ping',
    ...(authorization ? { headers: { authorization } } : {}),
  });
  return { status: res.statusCode, code: res.json().error?.code as string | undefined, body: res.body };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An EdDSA JWT with arbitrary header and claims, signed with a private key in env format. */
function forge(privateKey: string, claims: Record<string, unknown>, header: object = { alg: 'EdDSA' }) {
  const key = createPrivateKey({
    key: Buffer.concat([
      Buffer.from('302e020100300506032b657004220420', 'hex'),
      Buffer.from(privateKey, 'base64url'),
    ]),
    format: 'der',
    type: 'pkcs8',
  });
  const input = `${b64(header)}.${b64(claims)}`;
  return `Bearer ${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const fresh = (extra: Record<string, unknown> = {}) => ({
  iss: 'gateway',
  aud: 'vault',
  iat: nowSeconds(),
  exp: nowSeconds() + INTERNAL_TOKEN_TTL_SECONDS,
  ...extra,
});

describe('internal service authentication', () => {
  it('accepts a fresh token addressed to this service and names the caller', async () => {
    const res = await vaultApp().inject({
      method: 'GET',
      url: '/internal/ping',
      headers: { authorization: gateway.headerFor('vault') },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ pong: true, caller: 'gateway' });
  });

  it('mints EdDSA tokens with iss, a single-string aud and a TTL-long life', () => {
    const [header, payload] = gateway.tokenFor('vault').split('.') as [string, string];
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({ alg: 'EdDSA', typ: 'JWT' });
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    expect(claims).toMatchObject({ iss: 'gateway', aud: 'vault' });
    expect(claims.exp - claims.iat).toBe(INTERNAL_TOKEN_TTL_SECONDS);
  });

  it('answers 401 INTERNAL_AUTH_REQUIRED without a token', async () => {
    expect(await call(vaultApp())).toMatchObject({ status: 401, code: 'INTERNAL_AUTH_REQUIRED' });
  });

  it('refuses a token issued in the future beyond the 5 s clock skew, accepts one within it', async () => {
    const app = vaultApp();
    const ahead = (ms: number) => authOf('gateway', gatewayPair.privateKey, {}, () => Date.now() + ms);
    expect(await call(app, ahead(30_000).headerFor('vault'))).toMatchObject({
      status: 401,
      code: 'INTERNAL_AUTH_INVALID',
    });
    // Signed by hand too: a short-lived token dated an hour ahead.
    const future = nowSeconds() + 3600;
    expect(
      await call(app, forge(gatewayPair.privateKey, fresh({ iat: future, exp: future + 30 }))),
    ).toMatchObject({ status: 401, code: 'INTERNAL_AUTH_INVALID' });
    expect((await call(app, ahead(3_000).headerFor('vault'))).status).toBe(200);
  });

  it('refuses a token whose audience is an array, even one naming only this service', async () => {
    const app = vaultApp();
    for (const aud of [['vault'], ['vault', 'compliance']]) {
      expect(await call(app, forge(gatewayPair.privateKey, fresh({ aud })))).toMatchObject({
        status: 401,
        code: 'INTERNAL_AUTH_INVALID',
      });
    }
    // The same token with a string audience passes: the array is what is refused.
    expect((await call(app, forge(gatewayPair.privateKey, fresh()))).status).toBe(200);
  });

  it("refuses a token signed with compliance's key that claims to come from gateway", async () => {
    const res = await call(vaultApp(), forge(compliancePair.privateKey, fresh({ iss: 'gateway' })));
    expect(res).toMatchObject({ status: 401, code: 'INTERNAL_AUTH_INVALID' });
  });

  it('refuses a token addressed to another service', async () => {
    expect(await call(vaultApp(), gateway.headerFor('compliance'))).toMatchObject({
      status: 401,
      code: 'INTERNAL_AUTH_INVALID',
    });
  });

  it('refuses a caller whose public key is not configured, however valid its token', async () => {
    const gatewayOnly = vaultApp({ gateway: gatewayPair.publicKey });
    expect(await call(gatewayOnly, compliance.headerFor('vault'))).toMatchObject({
      status: 401,
      code: 'INTERNAL_AUTH_INVALID',
    });
    expect((await call(gatewayOnly, gateway.headerFor('vault'))).status).toBe(200);
    // A service nobody calls (no public keys) refuses everyone.
    expect((await call(vaultApp({}), gateway.headerFor('vault'))).status).toBe(401);
  });

  it('refuses an expired token', async () => {
    const stale = authOf('gateway', gatewayPair.privateKey, {}, () => Date.now() - 120_000);
    expect(await call(vaultApp(), stale.headerFor('vault'))).toMatchObject({
      status: 401,
      code: 'INTERNAL_AUTH_INVALID',
    });
  });

  it('refuses a token minted with a life longer than the TTL', async () => {
    const longLived = forge(gatewayPair.privateKey, fresh({ exp: nowSeconds() + 3600 }));
    expect(await call(vaultApp(), longLived)).toMatchObject({ status: 401, code: 'INTERNAL_AUTH_INVALID' });
  });

  it('refuses every algorithm but EdDSA: none, HS256 keyed with the public key, others', async () => {
    const app = vaultApp();
    const claims = b64(fresh());
    const hs256 = (secret: string | Buffer) => {
      const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${claims}`;
      return `Bearer ${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
    };
    const attempts = [
      `Bearer ${b64({ alg: 'none' })}.${claims}.`,
      `Bearer ${b64({ alg: 'none' })}.${claims}.${'A'.repeat(86)}`,
      hs256(gatewayPair.publicKey),
      hs256(Buffer.from(gatewayPair.publicKey, 'base64url')),
      // A valid Ed25519 signature, but the header does not say EdDSA.
      forge(gatewayPair.privateKey, fresh(), { alg: 'ES256' }),
      forge(gatewayPair.privateKey, fresh(), { alg: 'eddsa' }),
      forge(gatewayPair.privateKey, fresh(), { alg: 'EdDSA', jwk: { kty: 'OKP' } }),
      'Bearer not-a-jwt',
      'Basic dXNlcjpwYXNz',
    ];
    for (const authorization of attempts) {
      expect(await call(app, authorization), authorization).toMatchObject({
        status: 401,
        code: 'INTERNAL_AUTH_INVALID',
      });
    }
  });

  it('refuses a tampered payload and never echoes the token in its answer', async () => {
    const [header, , signature] = gateway.tokenFor('vault').split('.');
    const tampered = `Bearer ${header}.${b64(fresh({ iss: 'gateway', role: 'admin' }))}.${signature}`;
    const res = await call(vaultApp(), tampered);
    expect(res).toMatchObject({ status: 401, code: 'INTERNAL_AUTH_INVALID' });
    expect(res.body).not.toContain(signature);
    expect(res.body).not.toContain('admin');
  });
});

describe('internal auth keys', () => {
  it('generates key pairs in the documented formats', () => {
    const { privateKey, publicKey } = generateServiceKeyPair();
    expect(privateKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(publicKeyOf(privateKey)).toBe(publicKey);
    // PKCS#8 DER = fixed prefix + the seed, as documented for INTERNAL_AUTH_PRIVATE_KEY.
    const der = createPrivateKey({
      key: Buffer.concat([
        Buffer.from('302e020100300506032b657004220420', 'hex'),
        Buffer.from(privateKey, 'base64url'),
      ]),
      format: 'der',
      type: 'pkcs8',
    });
    expect(der.export({ format: 'jwk' }).x).toBe(publicKey);
  });

  it('loads through loadConfig; the public keys may be unset', () => {
    const config = loadConfig('vault', InternalAuthConfig, {
      INTERNAL_AUTH_PRIVATE_KEY: vaultPair.privateKey,
      INTERNAL_AUTH_PUBLIC_KEYS: ` gateway=${gatewayPair.publicKey}, compliance=${compliancePair.publicKey}`,
    });
    expect([...parseInternalKeys('vault', config).callers.keys()]).toEqual(['gateway', 'compliance']);
    const alone = loadConfig('vault', InternalAuthConfig, {
      INTERNAL_AUTH_PRIVATE_KEY: vaultPair.privateKey,
    });
    expect(parseInternalKeys('vault', alone).callers.size).toBe(0);
  });

  it('reports malformed variables by name without echoing the private key', () => {
    const badPrivate = 'not-a-key-but-a-secret-value';
    let error: unknown;
    try {
      loadConfig('vault', InternalAuthConfig, {
        INTERNAL_AUTH_PRIVATE_KEY: badPrivate,
        INTERNAL_AUTH_PUBLIC_KEYS: `gateway:${gatewayPair.publicKey}`,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/INTERNAL_AUTH_PRIVATE_KEY is malformed/);
    expect(problems).toMatch(/INTERNAL_AUTH_PUBLIC_KEYS is malformed/);
    expect(problems).not.toContain(badPrivate);
    expect(() => loadConfig('vault', InternalAuthConfig, {})).toThrow(
      /INTERNAL_AUTH_PRIVATE_KEY is required.*Ed25519/,
    );
  });

  it('refuses well-formed strings that are not usable keys, naming the variable and the caller', () => {
    const raw32 = (hex: string) => Buffer.from(hex.padEnd(64, '0'), 'hex').toString('base64url');
    const notKeys = {
      // With the all-zero "public key", an all-zero signature verifies for any message.
      zero: raw32('00'),
      identity: raw32('01'),
      // y = p - 1: a point of order 2.
      order2: raw32(`ec${'ff'.repeat(30)}7f`),
      // y >= p: not a canonical encoding.
      overflow: raw32('ff'.repeat(32)),
      // y = 2: x² is not a square, so no point has it.
      offCurve: raw32('02'),
    };
    for (const [name, key] of Object.entries(notKeys)) {
      expect(
        () =>
          parseInternalKeys('vault', {
            INTERNAL_AUTH_PRIVATE_KEY: vaultPair.privateKey,
            INTERNAL_AUTH_PUBLIC_KEYS: `gateway=${gatewayPair.publicKey},compliance=${key}`,
          }),
        name,
      ).toThrow(/INTERNAL_AUTH_PUBLIC_KEYS is malformed: the key for compliance is/);
    }
    // The 43rd character has two spare bits: a non-canonical spelling is refused.
    const last = vaultPair.privateKey.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = `${vaultPair.privateKey.slice(0, 42)}${alphabet[alphabet.indexOf(last) ^ 1]}`;
    expect(() => parseInternalKeys('vault', { INTERNAL_AUTH_PRIVATE_KEY: sibling })).toThrow(
      /INTERNAL_AUTH_PRIVATE_KEY is malformed/,
    );
    expect(() =>
      parseInternalKeys('vault', {
        INTERNAL_AUTH_PRIVATE_KEY: vaultPair.privateKey,
        INTERNAL_AUTH_PUBLIC_KEYS: `gateway=${gatewayPair.publicKey},gateway=${compliancePair.publicKey}`,
      }),
    ).toThrow(/gateway is listed twice/);
  });
});

describe('registerInternal', () => {
  function appWithInternalRoutes() {
    const app = createService({
      service: 'vault',
      version: '0',
      logLevel: 'silent',
      readinessTimeoutMs: 100,
      checks: [],
    });
    registerInternal(
      app,
      async (scope) => {
        scope.get('/secrets/:ref', async (request) => ({ caller: request.caller }));
        scope.post('/secrets', async () => ({ stored: true }));
        scope.register(
          async (nested) => {
            nested.delete('/cache', async () => ({ cleared: true }));
          },
          { prefix: '/admin' },
        );
        // fastify-plugin breaks out of its own scope, but only into the internal one.
        scope.register(
          fp(async (shared) => {
            shared.put('/rotate', async () => ({ rotated: true }));
          }),
        );
      },
      { auth: authOf('vault', vaultPair.privateKey, { gateway: gatewayPair.publicKey }) },
    );
    app.get('/public/hello', async () => ({ hello: true }));
    return app;
  }

  it('lists every route it registered, nested ones included, and nothing else', async () => {
    const app = appWithInternalRoutes();
    await app.ready();
    expect(internalRoutes(app)).toEqual(
      expect.arrayContaining([
        { method: 'GET', url: '/internal/secrets/:ref' },
        { method: 'HEAD', url: '/internal/secrets/:ref' },
        { method: 'POST', url: '/internal/secrets' },
        { method: 'DELETE', url: '/internal/admin/cache' },
        { method: 'PUT', url: '/internal/rotate' },
      ]),
    );
    expect(internalRoutes(app)).toHaveLength(5);
  });

  it('puts every listed route behind the token check; routes outside stay open', async () => {
    const app = appWithInternalRoutes();
    await app.ready();
    for (const { method, url } of internalRoutes(app)) {
      const target = url.replace(':ref', 'r1');
      const inject = (authorization?: string) =>
        app.inject({
          method: method as 'GET',
          url: target,
          ...(authorization ? { headers: { authorization } } : {}),
        });
      const none = await inject();
      expect(none.statusCode, `${method} ${url}`).toBe(401);
      // HEAD answers carry no body.
      if (method !== 'HEAD') expect(none.json().error.code).toBe('INTERNAL_AUTH_REQUIRED');
      // compliance has a valid key of its own, but vault does not hold it.
      const stranger = await inject(compliance.headerFor('vault'));
      expect(stranger.statusCode, `${method} ${url}`).toBe(401);
      expect((await inject(gateway.headerFor('vault'))).statusCode, `${method} ${url}`).toBe(200);
    }
    expect((await app.inject({ method: 'GET', url: '/public/hello' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('honours another prefix', async () => {
    const app = createService({
      service: 'vault',
      version: '0',
      logLevel: 'silent',
      readinessTimeoutMs: 100,
      checks: [],
    });
    registerInternal(
      app,
      async (scope) => {
        scope.get('/x', async () => ({}));
      },
      {
        auth: authOf('vault', vaultPair.privateKey),
        prefix: '/private',
      },
    );
    await app.ready();
    expect(internalRoutes(app)[0]).toEqual({ method: 'GET', url: '/private/x' });
    expect((await app.inject({ method: 'GET', url: '/private/x' })).statusCode).toBe(401);
  });
});
