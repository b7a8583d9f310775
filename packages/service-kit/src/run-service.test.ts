import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { BaseConfig, RedisConfig } from './config';
import { resolveFileVariables, runService } from './run-service';
import { createService } from './service';

const schema = { ...BaseConfig, ...RedisConfig, PORT: Type.Integer({ default: 0 }) };

function capture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  return { stream, text: () => text };
}

describe('resolveFileVariables', () => {
  const files: Record<string, string> = { '/run/secrets/key': 'abc\n', '/run/secrets/crlf': 'x\r\n' };
  const read = (path: string) => {
    if (!(path in files)) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    return files[path]!;
  };

  const known = new Set(['SECRET', 'OTHER', 'KEEP', 'A', 'B', 'SEED', 'SEED_FILE']);

  it('sets NAME from the file NAME_FILE names, trimming one trailing newline', () => {
    const { env, problems } = resolveFileVariables(
      { SECRET_FILE: '/run/secrets/key', OTHER_FILE: '/run/secrets/crlf', KEEP: '1' },
      known,
      read,
    );
    expect(problems).toEqual([]);
    expect(env).toEqual({ SECRET: 'abc', OTHER: 'x', KEEP: '1' });
  });

  it('leaves alone a *_FILE variable that is a variable of its own, or names no variable of the service', () => {
    const given = { SEED_FILE: '/data/seed.json', UNRELATED_FILE: '/etc/passwd' };
    const { env, problems } = resolveFileVariables(given, known, read);
    expect(problems).toEqual([]);
    expect(env).toEqual(given);
  });

  it('reports an unreadable file and a variable set both ways, naming the variables', () => {
    const { problems } = resolveFileVariables(
      { A_FILE: '/missing', B: 'inline', B_FILE: '/run/secrets/key' },
      known,
      read,
    );
    expect(problems).toEqual([
      'A_FILE names /missing, which cannot be read (ENOENT); check the path and its permissions',
      'B and B_FILE are both set; set only one of them',
    ]);
  });
});

describe('runService', () => {
  it('exits 78 when the configuration is invalid, before opening anything', async () => {
    const codes: number[] = [];
    let started = false;
    await runService({
      service: 'gateway',
      configSchema: schema,
      env: { PORT: 'eighty' },
      exit: (code) => codes.push(code),
      start: async () => {
        started = true;
        return createService({
          service: 'gateway',
          version: '0',
          logLevel: 'silent',
          readinessTimeoutMs: 50,
          checks: [],
        });
      },
    });
    expect(codes).toEqual([78]);
    expect(started).toBe(false);
  });

  it('closes what start-up opened, in reverse order, logs the error and exits 1 when building the app throws', async () => {
    const codes: number[] = [];
    const closed: string[] = [];
    const logs = capture();
    await runService({
      service: 'gateway',
      configSchema: schema,
      env: { REDIS_URL: 'redis://127.0.0.1:1', LOG_LEVEL: 'info' },
      logStream: logs.stream,
      exit: (code) => codes.push(code),
      start: async ({ own }) => {
        own('first', 'a', () => closed.push('first'));
        own('second', 'b', () => closed.push('second'));
        throw new Error('migration failed: index spec drift');
      },
    });
    expect(codes).toEqual([1]);
    expect(closed).toEqual(['second', 'first']);
    const fatal = logs
      .text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: number; msg: string; err?: { message: string } })
      .find((entry) => entry.level === 60);
    expect(fatal?.msg).toMatch(/start-up failed/);
    expect(fatal?.err?.message).toBe('migration failed: index spec drift');
  });

  it('turns a ConfigError thrown while building (a malformed key) into exit 78', async () => {
    const codes: number[] = [];
    const { ConfigError } = await import('./config');
    await runService({
      service: 'gateway',
      configSchema: schema,
      env: { REDIS_URL: 'redis://127.0.0.1:1', LOG_LEVEL: 'silent' },
      exit: (code) => codes.push(code),
      start: async () => {
        throw new ConfigError('gateway', ['INTERNAL_AUTH_PRIVATE_KEY is malformed: not a key']);
      },
    });
    expect(codes).toEqual([78]);
  });

  it('closes the app (its onClose hooks stop workers) and then what it owns, and exits 1, when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    const codes: number[] = [];
    const order: string[] = [];
    try {
      await runService({
        service: 'gateway',
        configSchema: schema,
        env: { REDIS_URL: 'redis://127.0.0.1:1', LOG_LEVEL: 'silent', PORT: String(port) },
        exit: (code) => codes.push(code),
        start: async ({ own }) => {
          own('connection', 'c', () => order.push('connection closed'));
          const app = createService({
            service: 'gateway',
            version: '0',
            logLevel: 'silent',
            readinessTimeoutMs: 50,
            checks: [],
          });
          app.addHook('onClose', async () => {
            order.push('app closed');
          });
          return app;
        },
      });
    } finally {
      blocker.close();
    }
    expect(codes).toEqual([1]);
    expect(order).toEqual(['app closed', 'connection closed']);
  });
});
