import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isSecretKey, redactDeep, redactUrl } from './logger';
import { createLogger, createService } from './service';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => lines.join('') };
}

const SECRETS = {
  token: 'EAAGm0PX4ZCpsBAtokenvalue',
  appSecret: 'a1b2c3d4e5f6appsecretvalue',
  password: 'hunter2-password-value',
  bearer: 'Bearer eyJhbGciOiJIUzI1NiJ9.headervalue',
};

describe('log redaction', () => {
  it('never writes an access token, app secret, password or Authorization header', () => {
    const out = capture();
    const log = createLogger('svc', 'info', out.stream);
    log.info(
      { accessToken: SECRETS.token, app_secret: SECRETS.appSecret, password: SECRETS.password },
      'top level',
    );
    log.info({ account: { access_token: SECRETS.token, appSecret: SECRETS.appSecret } }, 'nested');
    log.info(
      { request: { headers: { authorization: SECRETS.bearer, 'x-hub-signature-256': 'sha256=abc' } } },
      'headers',
    );
    log.info({ req: { url: '/x', headers: { authorization: SECRETS.bearer } } }, 'request serializer');
    log.info({ deep: { user: { credentials: { password: SECRETS.password } } } }, 'deep');
    const text = out.text();
    for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret);
    expect(text).not.toContain('sha256=abc');
    expect(text.match(/\[REDACTED\]/g)?.length).toBeGreaterThanOrEqual(8);
  });

  it('redacts at any depth, in any capitalisation, and masks passwords in URLs', () => {
    const out = capture();
    const log = createLogger('svc', 'info', out.stream);
    class GraphError extends Error {
      response = {
        config: { headers: { Authorization: SECRETS.bearer, 'X-Hub-Signature-256': 'sha256=deadbeef' } },
      };
    }
    log.error({ err: new GraphError('send failed') }, 'graph call failed');
    log.info(
      {
        a: { b: { c: { d: { e: { Password: SECRETS.password, refresh_token: SECRETS.token } } } } },
        headers: { 'set-cookie': 'sid=cookievalue', 'x-api-key': 'apikeyvalue', Cookie: 'c=cookie2' },
        clientSecret: SECRETS.appSecret,
        privateKey: '-----BEGIN PRIVATE KEY-----abc',
        redisUrl: 'redis://:redispassword@10.0.0.5:6379',
        mongoUrl: 'mongodb://wapi:mongopassword@db:27017/wapi',
      },
      'everything',
    );
    const text = out.text();
    for (const secret of [
      ...Object.values(SECRETS),
      'sha256=deadbeef',
      'cookievalue',
      'apikeyvalue',
      'cookie2',
      'BEGIN PRIVATE KEY',
      'redispassword',
      'mongopassword',
    ]) {
      expect(text).not.toContain(secret);
    }
    const graphLine = JSON.parse(text.split('\n')[0]!);
    expect(graphLine.err).toMatchObject({ type: 'GraphError', message: 'send failed' });
    expect(text).toContain('mongodb://wapi:[REDACTED]@db:27017/wapi');
  });

  it('keeps secrets in headers and query strings of requests out of request logs', async () => {
    const out = capture();
    const app = createService({
      service: 'svc',
      version: '0',
      logLevel: 'info',
      readinessTimeoutMs: 100,
      checks: [],
      log: createLogger('svc', 'info', out.stream),
    });
    app.get('/oauth', async () => ({ ok: true }));
    const res = await app.inject({
      method: 'GET',
      url: `/oauth?client_id=1&client_secret=${SECRETS.appSecret}&code=abc123code&access_token=${SECRETS.token}`,
      headers: { authorization: SECRETS.bearer },
    });
    expect(res.statusCode).toBe(200);
    await app.close();
    const text = out.text();
    expect(text).toContain('client_id=1');
    for (const secret of [SECRETS.appSecret, SECRETS.token, SECRETS.bearer, 'abc123code'])
      expect(text).not.toContain(secret);
  });

  it('redacts sensitive query parameters and leaves the rest', () => {
    expect(redactUrl('/x?hub.verify_token=s3cret&hub.challenge=42')).toBe(
      '/x?hub.verify_token=[REDACTED]&hub.challenge=42',
    );
    expect(redactUrl('/plain')).toBe('/plain');
  });
});

/** Every log line written while `fn` runs, parsed. */
function logged(fn: (log: ReturnType<typeof createLogger>) => void) {
  const out = capture();
  fn(createLogger('svc', 'info', out.stream));
  return {
    text: out.text(),
    lines: out
      .text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** The secret-looking names the redaction must catch, each with a value unique to it. */
const SECRET_NAMES = [
  'token',
  'tokens',
  'accessToken',
  'ACCESS_TOKEN',
  'secret',
  'secrets',
  'clientSecret',
  'password',
  'passphrase',
  'authorization',
  'Proxy-Authorization',
  'cookie',
  'set-cookie',
  'encryptionKey',
  'masterKey',
  'master_key',
  'dataKey',
  'dataKeys',
  'dek',
  'wrappedDek',
  'DEKs',
  'kek',
  'kek_material',
  'secretKey',
  'privateKey',
  'aws_secret_access_key',
  'AWS_SECRET_ACCESS_KEY',
  'plaintext',
  'credential',
  'credentials',
  'api-key',
  'apiKey',
  'X-API-KEY',
  'x-hub-signature-256',
  'pin',
];
const secretOf = (name: string) => `s3cr3t-value-of-${name.toLowerCase().replace(/[^a-z0-9]/g, '')}`;
const secretFields = () => Object.fromEntries(SECRET_NAMES.map((name) => [name, secretOf(name)]));

/** Names that contain a secret word but name no secret, and innocent words around dek/kek. */
const KEPT = {
  keyId: 'k-1',
  kekVersion: 3,
  dekId: 'd-9',
  idempotencyKey: 'idem-1',
  tokenType: 'bearer',
  tokenCount: 42,
  codeKey: 'code-key-value',
  nodeKind: 'node-kind-value',
  modeKey: 'mode-key-value',
  checkedAt: 'checked-value',
  key: 'redis-key-value',
};

describe('secret-looking names', () => {
  it('redacts every secret-looking name at any depth, in arrays, child bindings and errors', () => {
    const { text, lines } = logged((log) => {
      log.info(secretFields(), 'top level');
      log.info({ a: { b: { c: { d: secretFields() } } } }, 'nested');
      log.info({ batch: [secretFields(), { inner: [secretFields()] }] }, 'arrays');
      log.child(secretFields()).child({ level2: secretFields() }).info('child bindings');
      const cause = Object.assign(new Error('cause'), secretFields());
      log.error({ err: Object.assign(new Error('outer', { cause }), secretFields()) }, 'error');
      log.error(Object.assign(new TypeError('bare error'), { config: secretFields() }));
    });
    for (const name of SECRET_NAMES) expect(text, name).not.toContain(secretOf(name));
    expect(lines).toHaveLength(6);
    // The names stay, so an operator sees that a value was there.
    expect(lines[0]).toMatchObject({ accessToken: '[REDACTED]', dek: '[REDACTED]', msg: 'top level' });
    expect(lines[3]).toMatchObject({ wrappedDek: '[REDACTED]', level2: { kek: '[REDACTED]' } });
    expect(lines[4]?.err).toMatchObject({ type: 'Error', message: 'outer: cause', password: '[REDACTED]' });
    expect(lines[5]?.err).toMatchObject({ type: 'TypeError', config: { privateKey: '[REDACTED]' } });
  });

  it('keeps allow-listed names and innocent words that merely contain dek or kek', () => {
    const { lines } = logged((log) => {
      log.info({ ...KEPT, nested: [{ ...KEPT }] }, 'kept');
      log.child({ ...KEPT }).info('child');
    });
    expect(lines[0]).toMatchObject({ ...KEPT, nested: [KEPT] });
    expect(lines[1]).toMatchObject(KEPT);
  });

  it('masks secret query parameters in any URL-looking string, messages included', () => {
    const graph = 'https://graph.facebook.com/v21.0/x?access_token=EAAGtokenvalue&fields=y';
    const { text, lines } = logged((log) => {
      log.info({ url: graph }, 'value');
      log.info(
        {
          calls: [
            '/oauth?client_id=1&client_secret=csecretvalue&code=oauthcodevalue&redirect_uri=https%3A%2F%2Fa',
            'https://maps.example/api?key=mapkeyvalue&q=paris',
            'https://s3.local/b/o?X-Amz-Credential=AKIAcredvalue&X-Amz-Signature=sigvalue&X-Amz-Expires=60',
            '/webhook?hub.mode=subscribe&hub.verify_token=verifyvalue&hub.challenge=123',
            'https://x.example/cb?token=plaintokenvalue',
          ],
        },
        'array',
      );
      log.warn(`GET ${graph} failed`);
      log.error({ err: new Error(`request to ${graph} timed out`) }, 'error message');
    });
    for (const secret of [
      'EAAGtokenvalue',
      'csecretvalue',
      'oauthcodevalue',
      'mapkeyvalue',
      'AKIAcredvalue',
      'sigvalue',
      'verifyvalue',
      'plaintokenvalue',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(lines[0]?.url).toBe('https://graph.facebook.com/v21.0/x?access_token=[REDACTED]&fields=y');
    expect(lines[2]?.msg).toBe(
      'GET https://graph.facebook.com/v21.0/x?access_token=[REDACTED]&fields=y failed',
    );
    for (const kept of ['client_id=1', 'redirect_uri=https%3A%2F%2Fa', 'q=paris', 'X-Amz-Expires=60']) {
      expect(text).toContain(kept);
    }
    expect(text).toContain('hub.challenge=123');
  });

  it('copies only what it changes, never mutates the caller, and bounds the walk', () => {
    const clean = { items: Array.from({ length: 2_000 }, (_, i) => ({ id: i, tags: ['a', 'b'] })) };
    // A clean object is returned as is: no deep clone of a big payload.
    expect(redactDeep(clean)).toBe(clean);
    const dirty = { big: clean, auth: { user: 'u', password: 'pw-value' } };
    const result = redactDeep(dirty) as typeof dirty;
    expect(result.auth).toEqual({ user: 'u', password: '[REDACTED]' });
    expect(result.big).toBe(clean);
    expect(dirty.auth.password).toBe('pw-value');
    // Past the node budget values are cut, not logged unchecked.
    const huge = Array.from({ length: 20_000 }, (_, i) => ({ i }));
    huge.push({ i: -1, nested: { password: 'late-secret' } } as never);
    const text = JSON.stringify(redactDeep(huge));
    expect(text).toContain('[Truncated]');
    expect(text).not.toContain('late-secret');
    // Cycles are cut; an object shared twice (no cycle) is logged twice.
    const shared = { v: 1 };
    const cyclic: Record<string, unknown> = { a: shared, b: shared, token: 't' };
    cyclic.self = cyclic;
    expect(redactDeep(cyclic)).toEqual({ a: { v: 1 }, b: { v: 1 }, token: '[REDACTED]', self: '[Circular]' });
  });

  it('classifies names case- and separator-insensitively', () => {
    for (const name of ['Access-Token', 'access.token', 'ACCESSTOKEN', 'wrapped_data_keys', 'KEK'])
      expect(isSecretKey(name), name).toBe(true);
    for (const name of ['keyId', 'KEK_VERSION', 'idempotency-key', 'decoded', 'bookkeeping', 'codeKey'])
      expect(isSecretKey(name), name).toBe(false);
  });
});
