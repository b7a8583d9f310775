import { createPrivateKey, generateKeyPairSync, sign as rawSign } from 'node:crypto';
import { useTestContext } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFRESH_REUSE_GRACE_MS } from '../src/domain/access-token';
import { gatewayEnv, type Harness, startGateway } from './harness';

const ctx = useTestContext('gwid');
let gw: Harness;
let clock = Date.now();
let signingKey = '';

beforeAll(async () => {
  const env = gatewayEnv(ctx);
  signingKey = env.ACCESS_TOKEN_PRIVATE_KEY!;
  gw = await startGateway(ctx, env, () => new Date(clock));
});
afterAll(() => gw?.close());

const jwtParts = (token: string) => token.split('.').map((p) => Buffer.from(p, 'base64url').toString());

describe('sign-up and login', () => {
  it('signs up a user as owner of a new workspace; the password is stored as argon2id only', async () => {
    const s = await gw.signup('alice');
    expect(s.workspace.plan).toBe('free');
    const me = await gw.call('GET', '/api/v1/auth/me', { token: s.tokens.accessToken });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ role: 'owner', workspaceId: s.workspace.id, user: { id: s.user.id } });
    expect(me.json().permissions).toContain('members:manage');
    const login = await ctx.db.collection('logins').findOne({ _id: s.user.email as never });
    expect(login?.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(JSON.stringify(login)).not.toContain(s.password);
    expect(gw.logs()).not.toContain(s.password);
  });

  it('refuses a second sign-up with the same e-mail (any case) with 409 EMAIL_TAKEN', async () => {
    const s = await gw.signup('dup');
    const again = await gw.call('POST', '/api/v1/auth/signup', {
      body: {
        email: s.user.email.toUpperCase(),
        password: 'another long password',
        name: 'x',
        workspaceName: 'y',
      },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('EMAIL_TAKEN');
  });

  it('issues an EdDSA access token with iss, aud, and a 15-minute lifetime', async () => {
    const s = await gw.signup('tok');
    const [header, payload] = jwtParts(s.tokens.accessToken).map((p) => {
      try {
        return JSON.parse(p);
      } catch {
        return p;
      }
    });
    expect(header.alg).toBe('EdDSA');
    expect(payload).toMatchObject({
      iss: 'wapi-gateway',
      aud: 'wapi-api',
      sub: s.user.id,
      ws: s.workspace.id,
    });
    expect(payload.exp - payload.iat).toBe(900);
    expect(s.tokens.expiresIn).toBe(900);
  });

  it('refuses tokens that are unsigned, signed by another key, or for another audience with 401 AUTH_INVALID', async () => {
    const s = await gw.signup('forge');
    const [, payload] = s.tokens.accessToken.split('.');
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
    const other = generateKeyPairSync('ed25519').privateKey;
    const forge = (claims: object, key = other) => {
      const head = Buffer.from('{"alg":"EdDSA","typ":"JWT"}').toString('base64url');
      const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
      return `${head}.${body}.${rawSign(null, Buffer.from(`${head}.${body}`), key).toString('base64url')}`;
    };
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const ownKey = createPrivateKey({
      key: Buffer.concat([
        Buffer.from('302e020100300506032b657004220420', 'hex'),
        Buffer.from(signingKey, 'base64url'),
      ]),
      format: 'der',
      type: 'pkcs8',
    });
    for (const token of [none, forge(claims), forge({ ...claims, aud: 'elsewhere' }, ownKey), 'garbage']) {
      const answer = await gw.call('GET', '/api/v1/auth/me', { token });
      expect(answer.statusCode, token).toBe(401);
      expect(answer.json().error.code).toBe('AUTH_INVALID');
    }
    // The same claims signed with the real key pass: the refusals above are about the key and audience.
    expect((await gw.call('GET', '/api/v1/auth/me', { token: forge(claims, ownKey) })).statusCode).toBe(200);
    const missing = await gw.call('GET', '/api/v1/auth/me');
    expect(missing.statusCode).toBe(401);
    expect(missing.json().error.code).toBe('AUTH_REQUIRED');
  });

  it('logs in with the right password and refuses a wrong one with 401 LOGIN_FAILED', async () => {
    const s = await gw.signup('login');
    const ok = await gw.call('POST', '/api/v1/auth/login', {
      body: { email: s.user.email, password: s.password },
      ip: '10.1.0.1',
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().workspaceId).toBe(s.workspace.id);
    const bad = await gw.call('POST', '/api/v1/auth/login', {
      body: { email: s.user.email, password: 'wrong password!' },
      ip: '10.1.0.1',
    });
    expect(bad.statusCode).toBe(401);
    expect(bad.json().error.code).toBe('LOGIN_FAILED');
  });

  it('answers the 6th failed login for one account within 15 minutes with 429 LOGIN_THROTTLED and Retry-After, even with the right password', async () => {
    const s = await gw.signup('throttle');
    for (let i = 0; i < 5; i++) {
      const answer = await gw.call('POST', '/api/v1/auth/login', {
        body: { email: s.user.email, password: `wrong ${i} password` },
        ip: `10.2.0.${i + 1}`,
      });
      expect(answer.statusCode).toBe(401);
    }
    const blocked = await gw.call('POST', '/api/v1/auth/login', {
      body: { email: s.user.email, password: s.password },
      ip: '10.2.0.99',
    });
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().error.code).toBe('LOGIN_THROTTLED');
    const retryAfter = Number(blocked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
  });

  it('throttles one IP address after 5 failures across different accounts', async () => {
    const victims = [await gw.signup('ipa'), await gw.signup('ipb')];
    for (let i = 0; i < 5; i++) {
      const victim = victims[i % 2]!;
      await gw.call('POST', '/api/v1/auth/login', {
        body: { email: victim.user.email, password: 'not the password' },
        ip: '10.3.3.3',
      });
    }
    const other = await gw.signup('ipc');
    const blocked = await gw.call('POST', '/api/v1/auth/login', {
      body: { email: other.user.email, password: other.password },
      ip: '10.3.3.3',
    });
    expect(blocked.statusCode).toBe(429);
    const elsewhere = await gw.call('POST', '/api/v1/auth/login', {
      body: { email: other.user.email, password: other.password },
      ip: '10.3.3.4',
    });
    expect(elsewhere.statusCode).toBe(200);
  });
});

describe('refresh tokens', () => {
  const refresh = (refreshToken: string) =>
    gw.call('POST', '/api/v1/auth/refresh', { body: { refreshToken } });

  it('rotates on every use and stores only a hash of the token', async () => {
    const s = await gw.signup('rot');
    const first = await refresh(s.tokens.refreshToken);
    expect(first.statusCode).toBe(200);
    expect(first.json().refreshToken).not.toBe(s.tokens.refreshToken);
    const stored = await ctx.db.collection('refresh_tokens').find({ userId: s.user.id }).toArray();
    expect(stored).toHaveLength(2);
    expect(JSON.stringify(stored)).not.toContain(s.tokens.refreshToken.slice(6));
    expect((await gw.call('GET', '/api/v1/auth/me', { token: first.json().accessToken })).statusCode).toBe(
      200,
    );
  });

  it('revokes the whole family when a used token comes back after the grace: every later token and access token is refused', async () => {
    const s = await gw.signup('reuse');
    const second = (await refresh(s.tokens.refreshToken)).json();
    const third = (await refresh(second.refreshToken)).json();
    clock += REFRESH_REUSE_GRACE_MS + 1_000;
    const reused = await refresh(s.tokens.refreshToken);
    expect(reused.statusCode).toBe(401);
    expect(reused.json().error.code).toBe('REFRESH_TOKEN_REUSED');
    const afterRevoke = await refresh(third.refreshToken);
    expect(afterRevoke.statusCode).toBe(401);
    expect(afterRevoke.json().error.code).toBe('REFRESH_TOKEN_INVALID');
    const me = await gw.call('GET', '/api/v1/auth/me', { token: third.accessToken });
    expect(me.statusCode).toBe(401);
    // Another session of the same user is untouched.
    const other = await gw.call('POST', '/api/v1/auth/login', {
      body: { email: s.user.email, password: s.password },
    });
    expect((await refresh(other.json().refreshToken)).statusCode).toBe(200);
  });

  it('answers two concurrent refreshes of one token both, within the grace', async () => {
    const s = await gw.signup('race');
    const [a, b] = await Promise.all([refresh(s.tokens.refreshToken), refresh(s.tokens.refreshToken)]);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    expect(a.json().refreshToken).not.toBe(b.json().refreshToken);
  });

  it('logout revokes the session: its access and refresh tokens are refused', async () => {
    const s = await gw.signup('out');
    const out = await gw.call('POST', '/api/v1/auth/logout', { token: s.tokens.accessToken });
    expect(out.statusCode).toBe(204);
    expect((await gw.call('GET', '/api/v1/auth/me', { token: s.tokens.accessToken })).statusCode).toBe(401);
    expect((await refresh(s.tokens.refreshToken)).json().error.code).toBe('REFRESH_TOKEN_INVALID');
  });

  it('refuses an unknown refresh token with 401 REFRESH_TOKEN_INVALID', async () => {
    const answer = await refresh('wapir_not-a-token');
    expect(answer.statusCode).toBe(401);
    expect(answer.json().error.code).toBe('REFRESH_TOKEN_INVALID');
  });
});

describe('the client address behind a proxy (GATEWAY_TRUST_PROXY)', () => {
  const fail = (g: Harness, email: string, ip: string, forwardedFor?: string) =>
    g.call('POST', '/api/v1/auth/login', {
      body: { email, password: 'not the password' },
      ip,
      ...(forwardedFor ? { headers: { 'x-forwarded-for': forwardedFor } } : {}),
    });
  const login = (g: Harness, who: { user: { email: string }; password: string }, ip: string, xff?: string) =>
    g.call('POST', '/api/v1/auth/login', {
      body: { email: who.user.email, password: who.password },
      ip,
      ...(xff ? { headers: { 'x-forwarded-for': xff } } : {}),
    });

  it('ignores X-Forwarded-For when off (the default): a forged header per attempt does not escape the per-IP throttle', async () => {
    const victims = [await gw.signup('fxa'), await gw.signup('fxb')];
    for (let i = 0; i < 5; i++) await fail(gw, victims[i % 2]!.user.email, '10.4.4.4', `203.0.113.${i + 1}`);
    const other = await gw.signup('fxc');
    const blocked = await login(gw, other, '10.4.4.4', '203.0.113.200');
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().error.code).toBe('LOGIN_THROTTLED');
  });

  it('with a hop count, throttles the client behind the proxy, not the proxy, and not a forged leftmost entry', async () => {
    const behind = await startGateway(ctx, gatewayEnv(ctx, { GATEWAY_TRUST_PROXY: '1' }));
    try {
      const victims = [await behind.signup('hpa'), await behind.signup('hpb')];
      const proxy = '10.5.0.1';
      // The client forges a leftmost entry each time; the proxy appends the real address.
      for (let i = 0; i < 5; i++)
        await fail(behind, victims[i % 2]!.user.email, proxy, `192.0.2.${i + 1}, 198.51.100.7`);
      const other = await behind.signup('hpc');
      expect((await login(behind, other, proxy, '192.0.2.99, 198.51.100.7')).statusCode).toBe(429);
      // Another client through the same proxy is not the one that failed.
      expect((await login(behind, other, proxy, '198.51.100.8')).statusCode).toBe(200);
    } finally {
      await behind.close();
    }
  });

  it('with a CIDR list, believes only the listed proxies', async () => {
    const behind = await startGateway(ctx, gatewayEnv(ctx, { GATEWAY_TRUST_PROXY: '10.6.0.0/16' }));
    try {
      const victims = [await behind.signup('cia'), await behind.signup('cib')];
      // Two trusted proxies in a row: the client is the first untrusted hop.
      for (let i = 0; i < 5; i++)
        await fail(behind, victims[i % 2]!.user.email, '10.6.0.1', '203.0.113.9, 10.6.0.2');
      const other = await behind.signup('cic');
      expect((await login(behind, other, '10.6.0.1', '203.0.113.9, 10.6.0.2')).statusCode).toBe(429);
      // An untrusted peer claiming to forward for that client is itself the client.
      expect((await login(behind, other, '192.0.2.50', '203.0.113.9')).statusCode).toBe(200);
    } finally {
      await behind.close();
    }
  });
});
