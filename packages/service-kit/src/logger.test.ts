import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { redactUrl } from './logger';
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
      logStream: out.stream,
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
      '/x?hub.verify_token=%5BREDACTED%5D&hub.challenge=42',
    );
    expect(redactUrl('/plain')).toBe('/plain');
  });
});
